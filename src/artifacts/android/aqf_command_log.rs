//! androidqf's `command.log`: the acquisition's own log. Current androidqf
//! writes `<RFC 3339 time> [LEVEL] message` lines (DEBUG and up; messages
//! may run on over several lines); older ones copied their console output
//! there, without times. MVT does not read it.
//!
//! What it says about the acquisition goes into the report: when it ran
//! (`acquisition_log_first`/`_last`, the host's clock) and how many
//! entries and problems it logged in the device section, every warning or
//! error androidqf hit (a module that failed, a file it could not pull) in
//! the notes, so a reader knows which parts of the acquisition are missing.
//! Its text is swept for indicators like the acquisition's other logs
//! (commands androidqf ran and what they printed can name a file, a
//! package or a host of the device).

use jiff::Timestamp;

use super::{AqfModule, AqfRead};
use crate::artifacts::{ModuleError, TextSweep};
use crate::evidence::zip_source::Source;
use crate::model::{DeviceScan, Record};

pub const MODULE: AqfModule = AqfModule {
    name: "aqf_command_log",
    artifact: "command.log",
    read: AqfRead::Sweep(run),
};

/// Problems listed one per note; the rest are counted.
const MAX_NOTES: usize = 10;
/// A problem's message in a note is cut here (at a char boundary).
const MAX_MESSAGE: usize = 300;

fn run(src: &Source, sweeper: &dyn TextSweep) -> Result<Vec<Record>, ModuleError> {
    let m = src.find(MODULE.artifact).ok_or(ModuleError::Missing)?;
    let data = src.read(m)?;
    Ok(super::logcat::sweep(&data, sweeper, MODULE.name, &m.name))
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its time, when the line gave one with its offset.
    pub time: Option<Timestamp>,
    /// `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL` (or `""`).
    pub level: String,
    pub message: String,
}

impl Entry {
    /// A warning or error androidqf logged (current androidqf also logs
    /// some failures at INFO as `ERROR: ...`).
    pub fn is_problem(&self) -> bool {
        let m = self.message.trim_start().as_bytes();
        let starts = |p: &str| {
            m.get(..p.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(p.as_bytes()))
        };
        matches!(self.level.as_str(), "WARNING" | "ERROR" | "CRITICAL")
            || starts("ERROR")
            || starts("WARNING")
    }
}

/// Terminal colour codes (`ESC [ … letter`) the console copy carries.
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `<time> [LEVEL] message` → (time, level, message).
fn timed_line(line: &str) -> Option<(Timestamp, &str, &str)> {
    let (time, rest) = line.split_once(' ')?;
    let time: Timestamp = time.parse().ok()?;
    let rest = rest.strip_prefix('[')?;
    let (level, message) = rest.split_once(']')?;
    if level.is_empty() || !level.bytes().all(|b| b.is_ascii_uppercase()) {
        return None;
    }
    Some((time, level, message.strip_prefix(' ').unwrap_or(message)))
}

/// The entries of a `command.log`. A line without a time continues the
/// entry before it; in a log without times, each non-empty line is one.
pub fn entries(text: &str) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    let mut timed = false;
    for raw in text.lines() {
        let line = strip_ansi(raw);
        if let Some((time, level, message)) = timed_line(&line) {
            timed = true;
            out.push(Entry {
                time: Some(time),
                level: level.to_string(),
                message: message.to_string(),
            });
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if timed => {
                last.message.push('\n');
                last.message.push_str(line.trim_end());
            }
            _ => out.push(Entry {
                time: None,
                level: String::new(),
                message: line.trim().to_string(),
            }),
        }
    }
    out
}

/// Puts what `command.log` says about the acquisition into the report's
/// device section and notes.
pub(super) fn describe(scan: &mut DeviceScan, src: &Source, label: &str) {
    let Some(m) = src.find(MODULE.artifact) else {
        return;
    };
    let text = match src.read_text(m) {
        Ok(t) => t,
        Err(e) => {
            scan.notes
                .push(format!("{label}: command.log unreadable: {e}"));
            return;
        }
    };
    let all = entries(&text);
    let times: Vec<Timestamp> = all.iter().filter_map(|e| e.time).collect();
    let extra = &mut scan.device.extra;
    extra.insert("acquisition_log_entries".into(), all.len().to_string());
    if let (Some(first), Some(last)) = (times.iter().min(), times.iter().max()) {
        extra.insert("acquisition_log_first".into(), first.to_string());
        extra.insert("acquisition_log_last".into(), last.to_string());
    }
    let problems: Vec<&Entry> = all.iter().filter(|e| e.is_problem()).collect();
    extra.insert(
        "acquisition_log_problems".into(),
        problems.len().to_string(),
    );
    for e in problems.iter().take(MAX_NOTES) {
        let when = e.time.map(|t| format!("{t} ")).unwrap_or_default();
        let level = if e.level.is_empty() {
            String::new()
        } else {
            format!("[{}] ", e.level)
        };
        let msg = e.message.replace('\n', " ⏎ ");
        let cut = crate::time::head_str(&msg, MAX_MESSAGE);
        let more = if cut.len() < msg.len() { "…" } else { "" };
        scan.notes.push(format!(
            "{label}: androidqf logged during the acquisition (command.log): {when}{level}{cut}{more}"
        ));
    }
    if problems.len() > MAX_NOTES {
        scan.notes.push(format!(
            "{label}: command.log has {} more warnings or errors of androidqf",
            problems.len() - MAX_NOTES
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_entries_with_continuations() {
        let log = "2026-11-20T11:00:00+01:00 [INFO] Started new acquisition x\n\
2026-11-20T11:00:02+01:00 [INFO] ERROR: failed to run module backup: timeout\n\
2026-11-20T11:00:03+01:00 [ERROR] ERROR: pull failed: exit status 1\n\
\n\
  adb: error: remote object does not exist\n\
2026-11-20T11:00:04+01:00 [DEBUG] Running: getprop\n\
not [A] time\n";
        let e = entries(log);
        assert_eq!(e.len(), 4);
        assert_eq!(
            e[0].time.unwrap().to_string(),
            "2026-11-20T10:00:00Z",
            "the offset is kept"
        );
        assert!(!e[0].is_problem());
        assert!(e[1].is_problem(), "INFO with ERROR:");
        assert!(e[2].is_problem());
        assert!(e[2].message.ends_with("remote object does not exist"));
        assert!(e[3].message.ends_with("not [A] time"));
        assert!(!e[3].is_problem());
    }

    #[test]
    fn console_copy_without_times() {
        let log = "\u{1b}[31;1mERROR:\u{1b}[0m Failed to create backup: denied\nAcquisition completed.\n\u{1b}[";
        let e = entries(log);
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].message, "ERROR: Failed to create backup: denied");
        assert!(e[0].is_problem() && e[0].time.is_none());
        assert!(!e[1].is_problem());
        // A naive time is not taken for an instant; an odd level is text.
        assert!(timed_line("2026-11-20T11:00:00 [INFO] x").is_none());
        assert!(timed_line("2026-11-20T11:00:00Z [info] x").is_none());
        assert!(timed_line("2026-11-20T11:00:00Z [] x").is_none());
    }
}
