//! `triangulation_timeline`: Kaspersky's published heuristic for Operation
//! Triangulation (`triangle-check`, 2023), reproduced event for event.
//!
//! A timeline is built from four sources: the `MBFile` times (modified,
//! status changed, birth) of SMS attachment folders and three preference
//! files in `Manifest.db`; the network times of four processes in
//! `DataUsage.sqlite` and in `com.apple.osanalytics.addaily.plist`; and
//! `LocationTimeStopped` of two locationd bundles. Every run of up to 10
//! consecutive events within 5 minutes is judged as `triangle-check` judges
//! it; a window where two or more classes (file, network, location, SMS)
//! coincide becomes one record raising [`rules::TRIANGULATION_TIMELINE_WINDOW`]
//! at the window's start. One summary record counts what the timeline held.
//!
//! One deliberate difference: `triangle-check` starts a window at every
//! event but the last ten (`range(len(timeline) - 10)`), so a burst among
//! the ten most recent events, or a timeline of ten events or fewer, is
//! never judged. spydar judges a window from every event; elsewhere the
//! windows are the same (`tests/triangulation.rs` compares them with
//! `triangle-check` itself when it is installed).
//!
//! `BackupAgent` in `netUsageBaseline` joins the timeline as in
//! `triangle-check`; its "exact" detection of that name is not repeated
//! here: `BackupAgent` is a stock iOS daemon name (see
//! `indicators-meta/stock-names.tsv`), and the bundled Triangulation
//! indicators already make it a warning in `datausage` and
//! `os_analytics_ad_daily`. The summary record lists where it was seen.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::util::{jts, plist_time};
use super::{Ctx, Module};
use crate::artifacts::ModuleError;
use crate::evidence::manifest_rows::Reader;
use crate::model::Record;
use crate::rules;
use rusqlite::types::ValueRef;

pub const MODULE: Module = Module {
    name: "triangulation_timeline",
    artifact: "Manifest.db, DataUsage.sqlite, com.apple.osanalytics.addaily.plist, locationd/clients.plist",
    run,
};

/// At most this many consecutive events make a window (`events_max`).
pub const WINDOW_EVENTS: usize = 10;
/// A window spans at most this many seconds from its first event.
pub const WINDOW_SECONDS: f64 = 300.0;

const SMS_ATTACHMENTS: &str = "Library/SMS/Attachments/";

/// `triangle-check`'s Manifest query: every SMS attachment path, and three
/// preference files whose changes accompanied the exploit.
const MANIFEST_QUERY: &str = "SELECT fileID, domain, relativePath, flags, file FROM Files WHERE \
    (relativePath LIKE 'Library/SMS/Attachments/%' AND domain = ?1) \
    OR (relativePath = 'Library/Preferences/com.apple.ImageIO.plist' AND domain = 'RootDomain') \
    OR (relativePath = 'Library/Preferences/com.apple.locationd.StatusBarIconManager.plist' AND domain = 'HomeDomain') \
    OR (relativePath = 'Library/Preferences/com.apple.imservice.ids.FaceTime.plist' AND domain = 'HomeDomain') \
    ORDER BY rowid";

/// The three preference files of [`MANIFEST_QUERY`]: domain and path.
pub(crate) const PREFERENCE_FILES: [(&str, &str); 3] = [
    ("RootDomain", "Library/Preferences/com.apple.ImageIO.plist"),
    (
        "HomeDomain",
        "Library/Preferences/com.apple.locationd.StatusBarIconManager.plist",
    ),
    (
        "HomeDomain",
        "Library/Preferences/com.apple.imservice.ids.FaceTime.plist",
    ),
];

/// `triangle-check`'s DataUsage query, kept verbatim: `UNION` folds
/// identical rows, which changes how many events a process adds.
const DATAUSAGE_QUERY: &str = "SELECT ZPROCESS.ZFIRSTTIMESTAMP, ZPROCESS.ZTIMESTAMP, ZPROCESS.ZPROCNAME, \
    ZPROCESS.ZBUNDLENAME, ZPROCESS.Z_PK, ZLIVEUSAGE.ZTIMESTAMP FROM ZLIVEUSAGE \
    LEFT JOIN ZPROCESS ON ZLIVEUSAGE.ZHASPROCESS = ZPROCESS.Z_PK UNION \
    SELECT ZFIRSTTIMESTAMP, ZTIMESTAMP, ZPROCNAME, ZBUNDLENAME, Z_PK, NULL FROM ZPROCESS \
    WHERE Z_PK NOT IN (SELECT ZHASPROCESS FROM ZLIVEUSAGE)";

/// Processes whose network use is a timeline event.
pub const NET_PROCESSES: [&str; 4] = [
    "nehelper",
    "com.apple.WebKit.WebContent",
    "powerd/com.apple.datausage.diagnostics",
    "lockdownd/com.apple.datausage.security",
];
/// The implant's process name in `triangle-check` (a stock daemon name too).
const BACKUP_AGENT: &str = "BackupAgent";
/// locationd clients whose `LocationTimeStopped` is a timeline event.
pub const LOCATION_CLIENTS: [&str; 2] = [
    "com.apple.locationd.bundle-/System/Library/LocationBundles/IonosphereHarvest.bundle",
    "com.apple.locationd.bundle-/System/Library/LocationBundles/WRMLinkSelection.bundle",
];

/// What happened, in `triangle-check`'s event types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `M`: `MBFile.LastModified`.
    Modified,
    /// `C`: `MBFile.LastStatusChange`.
    StatusChanged,
    /// `B`: `MBFile.Birth`.
    Birth,
    /// `NetUsage`: the date in `netUsageBaseline`.
    NetUsage,
    /// `NetFirst`: `ZPROCESS.ZFIRSTTIMESTAMP`.
    NetFirst,
    /// `NetTimestamp`: `ZPROCESS.ZTIMESTAMP`.
    NetTimestamp,
    /// `NetTimestamp2`: `ZLIVEUSAGE.ZTIMESTAMP`.
    NetLive,
    /// `LocationTimeStopped` in `clients.plist`.
    LocationStopped,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Modified => "file_modified",
            Kind::StatusChanged => "file_status_changed",
            Kind::Birth => "file_birth",
            Kind::NetUsage => "net_usage_baseline",
            Kind::NetFirst => "net_first",
            Kind::NetTimestamp => "net_timestamp",
            Kind::NetLive => "net_live_usage",
            Kind::LocationStopped => "location_time_stopped",
        }
    }

    fn is_file(self) -> bool {
        matches!(self, Kind::Modified | Kind::StatusChanged | Kind::Birth)
    }

    fn source(self) -> &'static str {
        match self {
            Kind::Modified | Kind::StatusChanged | Kind::Birth => "Manifest.db",
            Kind::NetUsage => "com.apple.osanalytics.addaily.plist",
            Kind::NetFirst | Kind::NetTimestamp | Kind::NetLive => "DataUsage.sqlite",
            Kind::LocationStopped => "locationd/clients.plist",
        }
    }

    fn words(self) -> &'static str {
        match self {
            Kind::Modified => "modified",
            Kind::StatusChanged => "attributes changed",
            Kind::Birth => "created",
            Kind::NetUsage | Kind::NetFirst | Kind::NetTimestamp | Kind::NetLive => {
                "used the network"
            }
            Kind::LocationStopped => "stopped location services",
        }
    }
}

/// One timeline event: Unix seconds, what, and the path or process.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub time: f64,
    pub kind: Kind,
    /// Shared by the events of one row (a backup lists tens of thousands
    /// of attachments, three events each).
    pub subject: std::sync::Arc<str>,
}

/// The classes `triangle-check` counts in a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    File,
    Network,
    Location,
    Sms,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::File => "file",
            Class::Network => "network",
            Class::Location => "location",
            Class::Sms => "SMS",
        }
    }
}

/// A flagged window: indices into the sorted timeline and its classes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    pub end: usize,
    pub classes: Vec<Class>,
}

pub fn run(ctx: &Ctx<'_>) -> Result<Vec<Record>, ModuleError> {
    let mut events = manifest_events(ctx)?;
    let mut sources = BTreeMap::new();
    let mut backup_agent = Vec::new();
    let read = [
        (
            "com.apple.osanalytics.addaily.plist",
            addaily_events(ctx, &mut backup_agent),
        ),
        ("DataUsage.sqlite", datausage_events(ctx)),
        ("locationd/clients.plist", location_events(ctx)),
    ];
    for (name, result) in read {
        let status = match result {
            Ok(mut e) => {
                events.append(&mut e);
                "read".to_string()
            }
            Err(ModuleError::Missing) => "not in this input".to_string(),
            Err(e) => format!("unreadable: {e}"),
        };
        sources.insert(name.to_string(), Value::String(status));
    }
    sort_timeline(&mut events);
    let windows = windows(&events);
    let mut out: Vec<Record> = windows.iter().map(|w| window_record(&events, w)).collect();
    out.push(summary(&events, windows.len(), sources, backup_agent));
    Ok(out)
}

/// Stable sort by time: events at the same second keep their reading
/// order, as in `triangle-check`'s timeline dictionary.
pub fn sort_timeline(events: &mut Vec<Event>) {
    events.retain(|e| e.time.is_finite());
    events.sort_by(|a, b| a.time.total_cmp(&b.time));
}

fn manifest_events(ctx: &Ctx<'_>) -> Result<Vec<Event>, ModuleError> {
    let mut out = Vec::new();
    // The rows the `manifest` module's pass collected, when it did.
    match ctx.backup.manifest_rows().take(Reader::Triangulation) {
        Some(rows) => {
            for (subject, times) in rows.times() {
                push_file_events(&mut out, subject, times);
            }
        }
        None => {
            for (subject, times) in query_manifest(ctx)? {
                push_file_events(&mut out, &subject, times);
            }
        }
    }
    Ok(out)
}

/// The events of one Manifest row's times.
fn push_file_events(out: &mut Vec<Event>, subject: &str, times: [Option<i64>; 3]) {
    let subject: std::sync::Arc<str> = subject.into();
    for (t, kind) in times
        .into_iter()
        .zip([Kind::Modified, Kind::StatusChanged, Kind::Birth])
    {
        if let Some(t) = t {
            out.push(Event {
                time: t as f64,
                kind,
                subject: subject.clone(),
            });
        }
    }
}

/// A Manifest row's relative path and `MBFile` times (modified, status
/// changed, birth).
type TimesRow = (String, [Option<i64>; 3]);

/// The rows of [`MANIFEST_QUERY`] with `MBFile` times.
fn query_manifest(ctx: &Ctx<'_>) -> Result<Vec<TimesRow>, ModuleError> {
    // A filesystem dump files /private/var/mobile under HomeDomain; a backup
    // puts SMS attachments in MediaDomain (same device folder).
    let sms_domain = if ctx.backup.is_filesystem() {
        "HomeDomain"
    } else {
        "MediaDomain"
    };
    let conn = ctx.backup.manifest_connection()?;
    let manifest = ctx.backup.root().join("Manifest.db");
    manifest_query_rows(&conn, sms_domain).map_err(ModuleError::sqlite(|| manifest.display()))
}

/// [`MANIFEST_QUERY`]'s rows with `MBFile` times, attachments in `sms_domain`.
pub(crate) fn manifest_query_rows(
    conn: &rusqlite::Connection,
    sms_domain: &str,
) -> rusqlite::Result<Vec<TimesRow>> {
    let mut stmt = conn.prepare(MANIFEST_QUERY)?;
    let rows = stmt.query_map([sms_domain], |row| {
        let subject = crate::evidence::ios_backup::row_text(row, 2)?;
        Ok(blob_times(row.get_ref(4)?).map(|t| (subject, t)))
    })?;
    Ok(rows.filter_map(|r| r.ok().flatten()).collect())
}

/// The `MBFile` times of a row's `file` value (modified, status changed,
/// birth), read without decoding the whole archive when it has the usual
/// layout; `None` for a value that is no decodable `MBFile`.
pub(crate) fn blob_times(file: ValueRef<'_>) -> Option<[Option<i64>; 3]> {
    let ValueRef::Blob(blob) = file else {
        return None;
    };
    if blob.is_empty() {
        return None;
    }
    crate::evidence::mbfile_times::mbfile_times(blob).or_else(|| {
        let mb = crate::evidence::nskeyed::decode_mbfile(blob).ok()?;
        Some([mb.last_modified, mb.last_status_change, mb.birth])
    })
}

fn unix_seconds(t: jiff::Timestamp) -> f64 {
    t.as_second() as f64 + f64::from(t.subsec_nanosecond()) / 1e9
}

/// Apple absolute time as `triangle-check` adds it: `978307200 + value`.
fn apple_seconds(v: &plist::Value) -> Option<f64> {
    let f = v
        .as_real()
        .or_else(|| v.as_signed_integer().map(|i| i as f64))?;
    Some(crate::time::APPLE_EPOCH_OFFSET as f64 + f)
}

fn addaily_events(ctx: &Ctx<'_>, backup_agent: &mut Vec<Value>) -> Result<Vec<Event>, ModuleError> {
    let (_, value) = ctx.backup.read_plist_at(
        super::os_analytics_ad_daily::DOMAIN,
        super::os_analytics_ad_daily::PATH,
    )?;
    let mut out = Vec::new();
    let Some(base) = super::os_analytics_ad_daily::baseline(&value) else {
        return Ok(out);
    };
    for (process, v) in base.iter() {
        let is_agent = process == BACKUP_AGENT;
        if !is_agent && !NET_PROCESSES.contains(&process.as_str()) {
            continue;
        }
        // triangle-check reads the first element as a date, nothing else.
        let Some(t) = v
            .as_array()
            .and_then(|a| a.first())
            .filter(|d| d.as_date().is_some())
            .and_then(plist_time)
        else {
            continue;
        };
        if is_agent {
            backup_agent.push(json!({
                "source": Kind::NetUsage.source(),
                "time": t.to_string(),
            }));
        }
        out.push(Event {
            time: unix_seconds(t),
            kind: Kind::NetUsage,
            subject: process.as_str().into(),
        });
    }
    Ok(out)
}

fn datausage_events(ctx: &Ctx<'_>) -> Result<Vec<Event>, ModuleError> {
    use super::datausage::{DOMAIN, PATH};
    let (entry, conn) = ctx.backup.open_sqlite_at(DOMAIN, PATH)?;
    let err = ModuleError::sqlite(|| ctx.backup.describe(&entry));
    let mut stmt = conn.prepare(DATAUSAGE_QUERY).map_err(err)?;
    let mut rows = stmt.query([]).map_err(err)?;
    let apple = |v: rusqlite::types::ValueRef<'_>| {
        super::util::real(v).map(|f| crate::time::APPLE_EPOCH_OFFSET as f64 + f)
    };
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(err)? {
        let name = row.get_ref(2).ok().and_then(super::util::text);
        // BackupAgent is triangle-check's exact match here, not a timeline event.
        let Some(name) = name.filter(|n| NET_PROCESSES.contains(&n.as_str())) else {
            continue;
        };
        for (i, kind) in [
            (0, Kind::NetFirst),
            (1, Kind::NetTimestamp),
            (5, Kind::NetLive),
        ] {
            if let Some(time) = row.get_ref(i).ok().and_then(apple) {
                out.push(Event {
                    time,
                    kind,
                    subject: name.as_str().into(),
                });
            }
        }
    }
    Ok(out)
}

fn location_events(ctx: &Ctx<'_>) -> Result<Vec<Event>, ModuleError> {
    let (_, value) = ctx.backup.read_plist_at(
        super::locationd_clients::DOMAIN,
        super::locationd_clients::PATH,
    )?;
    let mut out = Vec::new();
    let Some(top) = value.as_dictionary() else {
        return Ok(out);
    };
    for (key, v) in top.iter() {
        if !LOCATION_CLIENTS.contains(&key.as_str()) {
            continue;
        }
        if let Some(time) = v
            .as_dictionary()
            .and_then(|d| d.get("LocationTimeStopped"))
            .and_then(apple_seconds)
        {
            out.push(Event {
                time,
                kind: Kind::LocationStopped,
                subject: key.as_str().into(),
            });
        }
    }
    Ok(out)
}

/// Every flagged window of a sorted timeline: one per event that starts a
/// window `triangle-check`'s rule flags.
pub fn windows(events: &[Event]) -> Vec<Window> {
    let mut out = Vec::new();
    for start in 0..events.len() {
        let t0 = events[start].time;
        let mut end = (start + WINDOW_EVENTS).min(events.len());
        if let Some(j) = events[start..end]
            .iter()
            .position(|e| e.time - t0 > WINDOW_SECONDS)
        {
            end = start + j;
        }
        if let Some(classes) = judge(&events[start..end]) {
            out.push(Window {
                start,
                end,
                classes,
            });
        }
    }
    out
}

/// `run_heuristics`: the classes of a window if it is flagged. A window
/// with an attachment path deeper than `Attachments/xx/yy` holds an
/// ordinary message and is dropped; so is one where an attachment folder
/// was not both modified and status-changed.
fn judge(window: &[Event]) -> Option<Vec<Class>> {
    let mut classes = Vec::new();
    let mut folders: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    for e in window {
        let class = if e.kind.is_file() {
            if e.subject.starts_with(SMS_ATTACHMENTS) {
                let depth = e.subject.matches('/').count();
                if depth != 3 && depth != 4 {
                    return None;
                }
                let seen = folders.entry(&*e.subject).or_default();
                seen.0 |= e.kind == Kind::Modified;
                seen.1 |= e.kind == Kind::StatusChanged;
                continue;
            }
            Class::File
        } else if e.kind == Kind::LocationStopped {
            Class::Location
        } else {
            Class::Network
        };
        if !classes.contains(&class) {
            classes.push(class);
        }
    }
    if folders.values().any(|&(m, c)| !(m && c)) {
        return None;
    }
    if !folders.is_empty() {
        classes.push(Class::Sms);
    }
    classes.sort_unstable();
    (classes.len() >= 2).then_some(classes)
}

fn ts(t: f64) -> Option<jiff::Timestamp> {
    crate::time::from_unix_f64(t)
}

fn describe(e: &Event) -> String {
    let subject = if e.kind.is_file() {
        &*e.subject
    } else {
        e.subject.rsplit('/').next().unwrap_or(&e.subject)
    };
    format!("{subject} {}", e.kind.words())
}

fn window_record(events: &[Event], w: &Window) -> Record {
    let evs = &events[w.start..w.end];
    let first = evs[0].time;
    let last = evs.last().map_or(first, |e| e.time);
    let classes: Vec<&str> = w.classes.iter().map(|c| c.as_str()).collect();
    let listed: Vec<Value> = evs
        .iter()
        .map(|e| {
            json!({
                "time": jts(ts(e.time)),
                "event": e.kind.as_str(),
                "source": e.kind.source(),
                "subject": &*e.subject,
            })
        })
        .collect();
    let words: Vec<String> = evs.iter().map(describe).collect();
    let start = ts(first);
    let message = format!(
        "{} events of {} kinds ({}) within {:.0} s from {}: {}",
        evs.len(),
        classes.len(),
        classes.join(", "),
        last - first,
        start.map(|t| t.to_string()).unwrap_or_default(),
        words.join("; ")
    );
    Record::new(MODULE.name, MODULE.artifact)
        .at(start)
        .event("triangulation_window", message.clone())
        .field("window_start", jts(start))
        .field("window_end", jts(ts(last)))
        .field("classes", json!(classes))
        .field("events", Value::Array(listed))
        .alert(&rules::TRIANGULATION_TIMELINE_WINDOW, message)
}

fn summary(
    events: &[Event],
    windows: usize,
    sources: BTreeMap<String, Value>,
    backup_agent: Vec<Value>,
) -> Record {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for e in events {
        let key = if e.kind.is_file() && e.subject.starts_with(SMS_ATTACHMENTS) {
            match e.subject.matches('/').count() {
                3 | 4 => "sms_attachment_folder",
                _ => "sms_attachment_file",
            }
        } else if e.kind.is_file() {
            "file"
        } else if e.kind == Kind::LocationStopped {
            "location"
        } else {
            "network"
        };
        *counts.entry(key).or_default() += 1;
    }
    let total = events.len();
    Record::new(MODULE.name, MODULE.artifact)
        .event(
            "triangulation_summary",
            format!(
                "Triangulation timeline: {total} events, {windows} flagged window(s) of up to {WINDOW_EVENTS} events within {WINDOW_SECONDS:.0} s"
            ),
        )
        .field("events", total as i64)
        .field(
            "events_by_class",
            Value::Object(counts.into_iter().map(|(k, v)| (k.to_string(), v.into())).collect()),
        )
        .field("windows", windows as i64)
        .field("sources", Value::Object(sources.into_iter().collect()))
        .field("backup_agent", Value::Array(backup_agent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(time: f64, kind: Kind, subject: &str) -> Event {
        Event {
            time,
            kind,
            subject: subject.into(),
        }
    }

    const DIR: &str = "Library/SMS/Attachments/3f";

    #[test]
    fn two_classes_flag_a_window() {
        let t = vec![
            ev(
                0.0,
                Kind::Modified,
                "Library/Preferences/com.apple.ImageIO.plist",
            ),
            ev(10.0, Kind::NetTimestamp, "nehelper"),
        ];
        let w = windows(&t);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].classes, vec![Class::File, Class::Network]);
    }

    #[test]
    fn five_minutes_and_ten_events_bound_a_window() {
        let far = vec![
            ev(
                0.0,
                Kind::Modified,
                "Library/Preferences/com.apple.ImageIO.plist",
            ),
            ev(300.5, Kind::NetTimestamp, "nehelper"),
        ];
        assert!(windows(&far).is_empty());
        let mut crowded: Vec<Event> = (0..10)
            .map(|i| {
                ev(
                    f64::from(i),
                    Kind::Modified,
                    "Library/Preferences/com.apple.ImageIO.plist",
                )
            })
            .collect();
        crowded.push(ev(20.0, Kind::NetTimestamp, "nehelper"));
        let w = windows(&crowded);
        // Only windows starting at event 1 or later reach the 11th event.
        assert_eq!(w.first().map(|w| w.start), Some(1));
    }

    #[test]
    fn sms_folders_need_modified_and_changed_and_deeper_paths_void_the_window() {
        let net = ev(5.0, Kind::NetLive, "nehelper");
        let both = vec![
            ev(0.0, Kind::Modified, DIR),
            ev(0.0, Kind::StatusChanged, DIR),
            net.clone(),
        ];
        assert_eq!(windows(&both)[0].classes, vec![Class::Network, Class::Sms]);
        let only_m = vec![ev(0.0, Kind::Modified, DIR), net.clone()];
        assert!(windows(&only_m).is_empty());
        let mut deeper = both.clone();
        deeper.push(ev(
            6.0,
            Kind::Modified,
            "Library/SMS/Attachments/3f/15/G/IMG_1.HEIC",
        ));
        deeper.push(ev(
            7.0,
            Kind::Modified,
            "Library/Preferences/com.apple.ImageIO.plist",
        ));
        assert!(windows(&deeper).is_empty(), "{:?}", windows(&deeper));
    }
}
