//! Tombstones (native crash dumps) in text or protobuf form: the crashed
//! process and its command line are matched; crashes of processes running
//! as root, system or shell are warnings.

use serde_json::json;

use super::BugreportModule;
use crate::artifacts::ModuleError;
use crate::evidence::zip_source::Source;
use crate::model::{ObservableType, Record};
use crate::time::DeviceZone;

pub const MODULE: BugreportModule = BugreportModule {
    name: "tombstones",
    nested_name: None,
    artifact: "tombstones",
    run,
};

/// Every `tombstone_*`, in name order, one record per crash: Android 12+
/// writes `tombstone_NN` and `tombstone_NN.pb` for the same crash, read as
/// one (the protobuf's fields first, the text's where it has none), as
/// MVT 2026 does. A file that fails is an error only when none could be
/// read.
fn run(src: &Source, zone: &DeviceZone) -> Result<Vec<Record>, ModuleError> {
    let mut members: Vec<_> = src.find_all(|b| b.starts_with("tombstone_")).collect();
    if members.is_empty() {
        return Err(ModuleError::Missing);
    }
    members.sort_by(|a, b| a.name.cmp(&b.name));
    // crash id (the name without `.pb`) → (text, protobuf)
    let mut crashes: std::collections::BTreeMap<
        String,
        (Option<Tombstone>, Option<Tombstone>, String),
    > = std::collections::BTreeMap::new();
    let mut errors = Vec::new();
    for m in members {
        let read = src.read(m).map_err(|e| format!("{}: {e}", m.name));
        let parsed = read.and_then(|d| parse_any(&m.name, &d));
        let id = m.name.strip_suffix(".pb").unwrap_or(&m.name).to_string();
        match parsed {
            Ok(t) => {
                let slot = crashes.entry(id).or_default();
                if m.name.ends_with(".pb") {
                    slot.1 = Some(t);
                    slot.2 = m.name.clone();
                } else {
                    slot.0 = Some(t);
                    if slot.2.is_empty() {
                        slot.2 = m.name.clone();
                    }
                }
            }
            Err(e) => errors.push(e),
        }
    }
    let out: Vec<Record> = crashes
        .into_values()
        .filter_map(|(text, proto, name)| {
            let t = match (proto, text) {
                (Some(p), Some(x)) => merge(p, x),
                (p, x) => p.or(x)?,
            };
            Some(to_record(&t, &name, zone))
        })
        .collect();
    if out.is_empty() {
        return Err(ModuleError::Failed(errors.join("; ")));
    }
    Ok(out)
}

/// The protobuf's tombstone with the text's values where it has none.
fn merge(mut p: Tombstone, x: Tombstone) -> Tombstone {
    let fill = |a: &mut String, b: String| {
        if a.is_empty() || a == "Unknown" {
            *a = b;
        }
    };
    fill(&mut p.build_fingerprint, x.build_fingerprint);
    fill(&mut p.revision, x.revision);
    fill(&mut p.arch, x.arch);
    fill(&mut p.timestamp, x.timestamp);
    fill(&mut p.process_name, x.process_name);
    fill(&mut p.binary_path, x.binary_path);
    fill(&mut p.signal, x.signal);
    fill(&mut p.selinux_label, x.selinux_label);
    p.pid = p.pid.or(x.pid);
    p.tid = p.tid.or(x.tid);
    p.uid = p.uid.or(x.uid);
    p.abort_message = p.abort_message.or(x.abort_message);
    p.cause = p.cause.or(x.cause);
    if p.command_line.is_empty() {
        p.command_line = x.command_line;
    }
    if p.backtrace_files.is_empty() {
        p.backtrace_files = x.backtrace_files;
    }
    p
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tombstone {
    pub build_fingerprint: String,
    pub revision: String,
    pub arch: String,
    pub timestamp: String,
    pub pid: Option<u64>,
    pub tid: Option<u64>,
    pub uid: Option<u64>,
    pub process_name: String,
    pub binary_path: String,
    pub command_line: Vec<String>,
    pub signal: String,
    pub abort_message: Option<String>,
    pub cause: Option<String>,
    pub selinux_label: String,
    /// Files of the crashing thread's backtrace frames (libraries,
    /// binaries, APKs), distinct, in frame order.
    pub backtrace_files: Vec<String>,
}

fn value(line: &str) -> String {
    line.split_once(':')
        .map(|(_, v)| v.trim().trim_matches('\'').to_string())
        .unwrap_or_default()
}

/// `      #00 pc 000000000004f2c4  /apex/…/libc.so (abort+164) (BuildId: …)`:
/// the frame's file.
fn frame_file(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let rest = t.strip_prefix('#')?;
    let mut parts = rest.splitn(4, char::is_whitespace);
    let (_, pc, _) = (parts.next()?, parts.next()?, parts.next()?);
    if pc != "pc" {
        return None;
    }
    let file = parts.next()?.trim_start();
    let end = file.find(" (").unwrap_or(file.len());
    file.get(..end).map(str::trim).filter(|f| !f.is_empty())
}

pub fn parse_text(text: &str) -> Tombstone {
    let mut t = Tombstone::default();
    // The first `backtrace:` block is the crashing thread's.
    let mut in_backtrace = false;
    let mut backtrace_done = false;
    for line in text.lines() {
        if line.starts_with("*** ***") || line.trim().is_empty() {
            if in_backtrace {
                backtrace_done = true;
                in_backtrace = false;
            }
            continue;
        }
        if !backtrace_done && line.trim() == "backtrace:" {
            in_backtrace = true;
            continue;
        }
        if in_backtrace {
            match frame_file(line) {
                Some(f) => push_path(&mut t.backtrace_files, f),
                None if line.trim_start().starts_with("NOTE") => {}
                None => {
                    in_backtrace = false;
                    backtrace_done = true;
                }
            }
            continue;
        }
        if line.starts_with("Build fingerprint") {
            t.build_fingerprint = value(line);
        } else if line.starts_with("Revision") {
            t.revision = value(line);
        } else if line.starts_with("ABI") {
            t.arch = value(line);
        } else if line.starts_with("Timestamp") {
            t.timestamp = value(line);
        } else if line.starts_with("Cmdline") {
            t.command_line = vec![value(line)];
        } else if line.starts_with("pid:") && t.pid.is_none() {
            // pid: N, tid: M, name: X  >>> /path <<<
            for part in line.split(", ") {
                let (k, v) = part.split_once(": ").unwrap_or(("", ""));
                match k.trim() {
                    "pid" => t.pid = v.trim().parse().ok(),
                    "tid" => t.tid = v.trim().parse().ok(),
                    "name" => {
                        let (name, rest) = v.split_once(">>>").unwrap_or((v, ""));
                        t.process_name = name.trim().to_string();
                        t.binary_path = rest.trim().trim_end_matches("<<<").trim().to_string();
                    }
                    _ => {}
                }
            }
        } else if line.starts_with("uid:") {
            t.uid = value(line).parse().ok();
        } else if line.starts_with("signal ") {
            t.signal = line.trim().to_string();
        } else if line.starts_with("Cause:") {
            t.cause = Some(value(line));
        } else if line.starts_with("Abort message") {
            t.abort_message = Some(
                line.split_once(':')
                    .map(|(_, v)| v.trim_start().trim_matches('\''))
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    t
}

/// The parts of AOSP's `tombstone.proto` (system/core/debuggerd/proto)
/// spydar reads, decoded with prost; every other field is skipped unread.
/// Strings are read as bytes so that a name that is not UTF-8 does not
/// lose the whole crash.
pub mod pb {
    use std::collections::HashMap;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tombstone {
        #[prost(int32, tag = "1")]
        pub arch: i32,
        #[prost(bytes = "vec", tag = "2")]
        pub build_fingerprint: Vec<u8>,
        #[prost(bytes = "vec", tag = "3")]
        pub revision: Vec<u8>,
        #[prost(bytes = "vec", tag = "4")]
        pub timestamp: Vec<u8>,
        #[prost(uint32, optional, tag = "5")]
        pub pid: Option<u32>,
        #[prost(uint32, tag = "6")]
        pub tid: u32,
        /// Proto3 leaves out a zero: an absent uid is root's 0.
        #[prost(uint32, tag = "7")]
        pub uid: u32,
        #[prost(bytes = "vec", tag = "8")]
        pub selinux_label: Vec<u8>,
        #[prost(bytes = "vec", repeated, tag = "9")]
        pub command_line: Vec<Vec<u8>>,
        #[prost(message, optional, tag = "10")]
        pub signal_info: Option<Signal>,
        #[prost(bytes = "vec", optional, tag = "14")]
        pub abort_message: Option<Vec<u8>>,
        #[prost(message, repeated, tag = "15")]
        pub causes: Vec<Cause>,
        #[prost(map = "uint32, message", tag = "16")]
        pub threads: HashMap<u32, Thread>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Signal {
        #[prost(int32, tag = "1")]
        pub number: i32,
        #[prost(bytes = "vec", tag = "2")]
        pub name: Vec<u8>,
        #[prost(int32, tag = "3")]
        pub code: i32,
        #[prost(bytes = "vec", tag = "4")]
        pub code_name: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Cause {
        #[prost(bytes = "vec", tag = "1")]
        pub human_readable: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Thread {
        #[prost(int32, tag = "1")]
        pub id: i32,
        #[prost(bytes = "vec", tag = "2")]
        pub name: Vec<u8>,
        #[prost(message, repeated, tag = "4")]
        pub current_backtrace: Vec<BacktraceFrame>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct BacktraceFrame {
        #[prost(bytes = "vec", tag = "6")]
        pub file_name: Vec<u8>,
    }

    pub fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }
}

const ARCH: &[&str] = &["ARM32", "ARM64", "X86", "X86_64", "RISCV64", "NONE"];
/// Largest protobuf tombstone decoded (real ones are tens of KiB; decoded
/// messages take a few times their wire size).
pub const MAX_PB_BYTES: usize = 8 * 1024 * 1024;
/// Most distinct backtrace file paths kept per crash.
const MAX_BACKTRACE_FILES: usize = 256;

/// Distinct paths, in first-seen order, at most [`MAX_BACKTRACE_FILES`].
fn push_path(paths: &mut Vec<String>, p: &str) {
    let p = p.trim();
    // `[anon:…]`, `<unknown>`, `[vdso]`: not files.
    if p.starts_with('/') && paths.len() < MAX_BACKTRACE_FILES && !paths.iter().any(|x| x == p) {
        paths.push(p.to_string());
    }
}

pub fn parse_protobuf(data: &[u8]) -> Option<Tombstone> {
    use prost::Message;
    if data.is_empty() || data.len() > MAX_PB_BYTES {
        return None;
    }
    let m = pb::Tombstone::decode(data).ok()?;
    let mut t = Tombstone {
        arch: ARCH
            .get(usize::try_from(m.arch).unwrap_or(usize::MAX))
            .unwrap_or(&"NONE")
            .to_string(),
        build_fingerprint: pb::text(&m.build_fingerprint),
        revision: pb::text(&m.revision),
        timestamp: pb::text(&m.timestamp),
        pid: m.pid.map(u64::from),
        tid: Some(m.tid.into()),
        uid: Some(m.uid.into()),
        selinux_label: pb::text(&m.selinux_label)
            .trim_end_matches('\0')
            .to_string(),
        command_line: m.command_line.iter().map(|c| pb::text(c)).collect(),
        abort_message: m.abort_message.as_deref().map(pb::text),
        cause: m.causes.first().map(|c| pb::text(&c.human_readable)),
        ..Tombstone::default()
    };
    if let Some(sig) = &m.signal_info {
        t.signal = format!(
            "signal {} ({}), code {} ({})",
            sig.number,
            pb::text(&sig.name),
            sig.code,
            pb::text(&sig.code_name)
        );
    }
    // The crashing thread is the one whose id is the tombstone's tid.
    let crashed = m
        .threads
        .values()
        .find(|th| i64::from(th.id) == i64::from(m.tid));
    t.process_name = crashed
        .map(|th| pb::text(&th.name))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "Unknown".into());
    for f in crashed.iter().flat_map(|th| &th.current_backtrace) {
        push_path(&mut t.backtrace_files, &pb::text(&f.file_name));
    }
    t.binary_path = t.command_line.first().cloned().unwrap_or_default();
    Some(t)
}

/// A tombstone's time: `2023-04-12 12:32:40.518290770+0200` carries its
/// offset, so it is an instant (MVT drops the offset and keeps the wall
/// clock). Without an offset it is the device's wall clock in `zone`; the
/// bool says whether the zone was needed.
fn tombstone_time(ts: &str, zone: &DeviceZone) -> (Option<jiff::Timestamp>, bool) {
    let ts = ts.trim();
    if let Ok(t) =
        jiff::fmt::strtime::parse("%Y-%m-%d %H:%M:%S%.f%z", ts).and_then(|b| b.to_timestamp())
    {
        return (Some(t), false);
    }
    let head: String = ts.chars().take(26).collect();
    let head = head.trim_end_matches(['+', '-']);
    (zone.parse_local(head), true)
}

pub fn to_record(t: &Tombstone, artifact: &str, zone: &DeviceZone) -> Record {
    let uid = t.uid.map(|u| u.to_string()).unwrap_or_default();
    let (when, local) = tombstone_time(&t.timestamp, zone);
    let mut r = Record::new(MODULE.name, artifact)
        .at(when)
        .event(
            "tombstone",
            format!(
                "Crash in '{}' process running as UID '{uid}'",
                t.process_name
            ),
        )
        .field("process_name", t.process_name.as_str())
        .field("pid", json!(t.pid))
        .field("tid", json!(t.tid))
        .field("uid", json!(t.uid))
        .field("command_line", json!(t.command_line))
        .field("binary_path", t.binary_path.as_str())
        .field("build_fingerprint", t.build_fingerprint.as_str())
        .field("arch", t.arch.as_str())
        .field("signal", t.signal.as_str())
        .field("timestamp", t.timestamp.as_str())
        .observe(ObservableType::Process, t.process_name.as_str());
    if local && when.is_some() {
        r = r.field("time_zone", zone.label());
    }
    if let Some(m) = &t.abort_message {
        r = r.field("abort_message", m.as_str());
    }
    if !t.selinux_label.is_empty() {
        r = r.field("selinux_label", t.selinux_label.as_str());
    }
    r = r.field("backtrace_files", json!(t.backtrace_files));
    if t.binary_path.starts_with('/') {
        r.push_observable(ObservableType::FilePath, t.binary_path.as_str());
    }
    for f in &t.backtrace_files {
        r.push_observable(ObservableType::FilePath, f.as_str());
    }
    if let Some(c) = &t.cause {
        r = r.field("cause", c.as_str());
    }
    if let Some(cmd) = t.command_line.first() {
        let base = cmd.split_whitespace().next().unwrap_or(cmd);
        r.push_observable(
            ObservableType::Process,
            base.rsplit('/').next().unwrap_or(base),
        );
        if base.starts_with('/') {
            r.push_observable(ObservableType::FilePath, base);
        }
    }
    if let Some(u @ (0 | 1000 | 2000)) = t.uid {
        r = r.alert(
            &crate::rules::ANDROID_PRIVILEGED_CRASH,
            format!(
                "Potentially suspicious crash in process '{}' running as UID '{u}' in tombstone '{artifact}' at {}",
                t.process_name, t.timestamp
            ),
        );
    }
    r
}

/// Reads one tombstone file (`.pb` → protobuf, else text).
pub fn parse_any(name: &str, data: &[u8]) -> Result<Tombstone, String> {
    let t = if name.ends_with(".pb") {
        parse_protobuf(data).ok_or_else(|| format!("{name}: malformed protobuf tombstone"))?
    } else {
        parse_text(&String::from_utf8_lossy(data))
    };
    if t.pid.is_none() || t.timestamp.is_empty() {
        return Err(format!("{name}: not a tombstone (no pid or timestamp)"));
    }
    Ok(t)
}

/// Parses one tombstone file into its record.
pub fn parse(name: &str, data: &[u8], zone: &DeviceZone) -> Result<Record, String> {
    Ok(to_record(&parse_any(name, data)?, name, zone))
}
