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
    artifact: "tombstones",
    run,
};

/// Every `tombstone_*`, in name order; one that fails is an error only
/// when none could be read.
fn run(src: &Source, zone: &DeviceZone) -> Result<Vec<Record>, ModuleError> {
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
            .and_then(|d| parse(&m.name, &d, zone))
        {
            Ok(r) => out.push(r),
            Err(e) => errors.push(e),
        }
    }
    if out.is_empty() {
        return Err(ModuleError::Failed(errors.join("; ")));
    }
    Ok(out)
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
}

fn value(line: &str) -> String {
    line.split_once(':')
        .map(|(_, v)| v.trim().trim_matches('\'').to_string())
        .unwrap_or_default()
}

pub fn parse_text(text: &str) -> Tombstone {
    let mut t = Tombstone::default();
    for line in text.lines() {
        if line.starts_with("*** ***") || line.trim().is_empty() {
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

/// Protobuf wire reading, just enough for `tombstone.proto`.
mod pb {
    pub enum Val<'a> {
        Int(u64),
        Bytes(&'a [u8]),
    }

    fn varint(b: &[u8], pos: &mut usize) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *b.get(*pos)?;
            *pos += 1;
            v |= ((byte & 0x7f) as u64) << shift;
            if byte & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// (field number, value) pairs; `None` on malformed input.
    pub fn fields(b: &[u8]) -> Option<Vec<(u64, Val<'_>)>> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < b.len() {
            let key = varint(b, &mut pos)?;
            let (field, wire) = (key >> 3, key & 7);
            let v = match wire {
                0 => Val::Int(varint(b, &mut pos)?),
                1 => {
                    pos = pos.checked_add(8).filter(|p| *p <= b.len())?;
                    Val::Int(0)
                }
                2 => {
                    let n = varint(b, &mut pos)? as usize;
                    let end = pos.checked_add(n).filter(|e| *e <= b.len())?;
                    let s = &b[pos..end];
                    pos = end;
                    Val::Bytes(s)
                }
                5 => {
                    pos = pos.checked_add(4).filter(|p| *p <= b.len())?;
                    Val::Int(0)
                }
                _ => return None,
            };
            out.push((field, v));
        }
        Some(out)
    }

    pub fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }
}

const ARCH: &[&str] = &["ARM32", "ARM64", "X86", "X86_64", "RISCV64", "NONE"];

pub fn parse_protobuf(data: &[u8]) -> Option<Tombstone> {
    use pb::Val::*;
    let mut t = Tombstone::default();
    let mut threads: Vec<(u64, String)> = Vec::new();
    for (field, v) in pb::fields(data)? {
        match (field, v) {
            (1, Int(a)) => t.arch = ARCH.get(a as usize).unwrap_or(&"NONE").to_string(),
            (2, Bytes(b)) => t.build_fingerprint = pb::text(b),
            (3, Bytes(b)) => t.revision = pb::text(b),
            (4, Bytes(b)) => t.timestamp = pb::text(b),
            (5, Int(n)) => t.pid = Some(n),
            (6, Int(n)) => t.tid = Some(n),
            (7, Int(n)) => t.uid = Some(n),
            (8, Bytes(b)) => t.selinux_label = pb::text(b),
            (9, Bytes(b)) => t.command_line.push(pb::text(b)),
            (10, Bytes(b)) => {
                let mut number = 0;
                let mut name = String::new();
                for (f, v) in pb::fields(b)? {
                    match (f, v) {
                        (1, Int(n)) => number = n,
                        (2, Bytes(s)) => name = pb::text(s),
                        _ => {}
                    }
                }
                t.signal = format!("signal {number} ({name})");
            }
            (14, Bytes(b)) => t.abort_message = Some(pb::text(b)),
            (15, Bytes(b)) => {
                for (f, v) in pb::fields(b)? {
                    if let (1, Bytes(s)) = (f, v) {
                        t.cause = Some(pb::text(s));
                    }
                }
            }
            (16, Bytes(b)) => {
                // map<uint32, Thread>: key=1, value=2 {id=1, name=2}
                let mut id = None;
                let mut name = String::new();
                for (f, v) in pb::fields(b)? {
                    match (f, v) {
                        (1, Int(k)) => id = id.or(Some(k)),
                        (2, Bytes(th)) => {
                            for (tf, tv) in pb::fields(th)? {
                                match (tf, tv) {
                                    (1, Int(k)) => id = Some(k),
                                    (2, Bytes(s)) => name = pb::text(s),
                                    _ => {}
                                }
                            }
                        }
                        _ => {}
                    }
                }
                if let Some(id) = id {
                    threads.push((id, name));
                }
            }
            _ => {}
        }
    }
    t.process_name = threads
        .iter()
        .find(|(id, _)| Some(*id) == t.tid)
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| "Unknown".into());
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

/// Parses one tombstone file (`.pb` → protobuf, else text).
pub fn parse(name: &str, data: &[u8], zone: &DeviceZone) -> Result<Record, String> {
    let t = if name.ends_with(".pb") {
        parse_protobuf(data).ok_or_else(|| format!("{name}: malformed protobuf tombstone"))?
    } else {
        parse_text(&String::from_utf8_lossy(data))
    };
    if t.pid.is_none() || t.timestamp.is_empty() {
        return Err(format!("{name}: not a tombstone (no pid or timestamp)"));
    }
    Ok(to_record(&t, name, zone))
}
