//! Process inventories: `ps.txt`, `ps_thread.txt`, `taskinfo.txt`,
//! `spindump-nosymbols.txt`, `jetsam_priority.*`,
//! `logdata.statistics.*.jsonl`/`.txt` and `logs/tailspindb/UUIDToBinaryLocations`.
//! Each process seen becomes one record with its name (Process) and, when
//! known, its executable path (FilePath); binary-image paths are FilePaths too.

use std::collections::BTreeSet;

use super::{LOGARCHIVE_EXTRA, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};
use crate::strings::base_name;

pub const PS: Module = Module {
    name: "ps",
    artifact: "ps.txt",
    claims: |n| n == PS.artifact,
    parse: ps,
    sweep_too: false,
};
pub const PS_THREAD: Module = Module {
    name: "ps_thread",
    artifact: "ps_thread.txt",
    claims: |n| n == PS_THREAD.artifact,
    parse: ps,
    sweep_too: false,
};
pub const TASKINFO: Module = Module {
    name: "taskinfo",
    artifact: "taskinfo.txt",
    claims: |n| n == TASKINFO.artifact,
    parse: taskinfo,
    sweep_too: false,
};
pub const SPINDUMP: Module = Module {
    name: "spindump",
    artifact: "spindump-nosymbols.txt",
    claims: |n| n == SPINDUMP.artifact,
    parse: spindump,
    sweep_too: false,
};
pub const JETSAM: Module = Module {
    name: "jetsam_priority",
    artifact: "jetsam_priority.*",
    claims: |n| !n.starts_with(LOGARCHIVE_EXTRA) && base_name(n).starts_with("jetsam_priority"),
    parse: jetsam,
    sweep_too: false,
};
pub const LOGDATA_STATISTICS: Module = Module {
    name: "logdata_statistics",
    artifact: "system_logs.logarchive/Extra/logdata.statistics.*",
    claims: |n| {
        let b = base_name(n);
        n.starts_with(LOGARCHIVE_EXTRA)
            && b.starts_with("logdata.statistics.")
            && (b.ends_with(".jsonl") || b.ends_with(".txt"))
    },
    parse: logdata_statistics,
    sweep_too: false,
};
pub const UUID_TO_BINARY: Module = Module {
    name: "uuid_to_binary",
    artifact: "logs/tailspindb/UUIDToBinaryLocations",
    claims: |n| !n.starts_with(LOGARCHIVE_EXTRA) && n.ends_with("tailspindb/UUIDToBinaryLocations"),
    parse: uuid_to_binary,
    sweep_too: false,
};

/// A process record: the name is the base name of `path_or_name` unless
/// `name` is given.
fn process_record(
    module: &str,
    member: &str,
    line: usize,
    name: Option<&str>,
    path: &str,
    pid: Option<u64>,
) -> Record {
    let exe = path.split_whitespace().next().unwrap_or(path);
    let base = name.unwrap_or_else(|| exe.rsplit('/').next().unwrap_or(exe));
    let mut r = Record::new(module, member)
        .event(
            "process",
            format!(
                "{base} (pid {})",
                pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into())
            ),
        )
        .field("member", member)
        .field("line", line)
        .field("name", base)
        .field("pid", pid);
    if !path.is_empty() {
        r = r.field("path", path);
    }
    r.push_observable(ObservableType::Process, base);
    if exe.starts_with('/') {
        r.push_observable(
            ObservableType::Process,
            exe.rsplit('/').next().unwrap_or(exe),
        );
        r.push_observable(ObservableType::FilePath, exe);
    }
    r
}

/// `ps.txt` / `ps_thread.txt`: header-driven columns, `COMMAND` last (it may
/// hold spaces and arguments). In `ps_thread.txt` process rows have a `TT`
/// value (`??`); thread rows do not repeat the command, so only process rows
/// with a command are kept, once per (pid, command).
pub fn ps(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.lines().enumerate();
    let header = loop {
        match lines.next() {
            Some((_, l)) if l.contains("PID") && l.contains("COMMAND") => break l,
            Some(_) => continue,
            None => {
                return Err(ModuleError::Failed(format!(
                    "{member}: no ps header (PID ... COMMAND)"
                )));
            }
        }
    };
    let cols: Vec<&str> = header.split_whitespace().collect();
    let ncols = cols.len();
    let pid_col = cols.iter().position(|c| *c == "PID");
    let user_col = cols.iter().position(|c| *c == "USER");
    let ppid_col = cols.iter().position(|c| *c == "PPID");
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < ncols {
            continue;
        }
        // The command starts at the ncols-th whitespace-separated field.
        let command = nth_field_rest(line, ncols - 1).unwrap_or_default().trim();
        if command.is_empty() {
            continue;
        }
        let pid = pid_col.and_then(|c| fields[c].parse::<u64>().ok());
        if !seen.insert((pid, command.to_string())) {
            continue;
        }
        let mut r = process_record(module, member, i + 1, None, command, pid);
        if let Some(c) = user_col {
            r = r.field("user", fields[c]);
        }
        if let Some(c) = ppid_col {
            r = r.field("ppid", fields[c].parse::<u64>().ok());
        }
        r = r.field("command", command);
        if command.contains(' ') {
            // Arguments may name a host or a file.
            r.push_observable(ObservableType::Text, command);
        }
        out.push(r);
    }
    Ok(out)
}

/// The rest of `line` from its `n`-th (0-based) whitespace-separated field on.
fn nth_field_rest(line: &str, n: usize) -> Option<&str> {
    let mut idx = 0;
    let mut in_field = false;
    for (pos, ch) in line.char_indices() {
        if ch.is_whitespace() {
            in_field = false;
        } else if !in_field {
            if idx == n {
                return Some(&line[pos..]);
            }
            idx += 1;
            in_field = true;
        }
    }
    None
}

/// `taskinfo.txt`: `process: "name" [pid]` lines.
pub fn taskinfo(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("process:") else {
            continue;
        };
        let rest = rest.trim();
        let name = rest.split('"').nth(1).unwrap_or(rest);
        let pid = rest
            .rsplit_once('[')
            .and_then(|(_, p)| p.trim_end_matches(']').trim().parse::<u64>().ok());
        out.push(process_record(module, member, i + 1, Some(name), "", pid));
    }
    Ok(out)
}

/// `spindump-nosymbols.txt`: `Process: name [pid]` and `Path:` per block,
/// and every Binary Images path.
pub fn spindump(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let mut out: Vec<Record> = Vec::new();
    let mut images = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix("Process:") {
            let rest = rest.trim();
            let (name, pid) = match rest.rsplit_once('[') {
                Some((n, p)) => (n.trim(), p.trim_end_matches(']').trim().parse::<u64>().ok()),
                None => (rest, None),
            };
            out.push(process_record(module, member, i + 1, Some(name), "", pid));
        } else if let Some(rest) = t.strip_prefix("Path:") {
            let path = rest.trim();
            if let Some(last) = out.last_mut()
                && path.starts_with('/')
            {
                last.fields.insert("path".into(), path.into());
                last.push_observable(ObservableType::FilePath, path);
                last.push_observable(
                    ObservableType::Process,
                    path.rsplit('/').next().unwrap_or(path),
                );
            }
        } else if t.starts_with("0x")
            && let Some(pos) = t.find("> /").or_else(|| t.find(">  /"))
        {
            // `0x... - 0x...  name  <uuid>  /path`
            let path = t[pos + 1..].trim();
            if images.insert(path.to_string()) {
                let r = Record::new(module, member)
                    .event("binary_image", path.to_string())
                    .field("member", member)
                    .field("line", i + 1)
                    .field("path", path)
                    .observe(ObservableType::FilePath, path)
                    .observe(
                        ObservableType::Process,
                        path.rsplit('/').next().unwrap_or(path),
                    );
                out.push(r);
            }
        }
    }
    Ok(out)
}

/// `jetsam_priority.txt`/`.csv`: one process per row; the name is the first
/// field with a letter in it, the pid the first all-digit field.
pub fn jetsam(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line
            .split([',', '\t', ' '])
            .map(|f| f.trim().trim_matches('"'))
            .filter(|f| !f.is_empty())
            .collect();
        let Some(name) = fields
            .iter()
            .find(|f| f.chars().any(|c| c.is_ascii_alphabetic()))
        else {
            continue;
        };
        let lower = name.to_ascii_lowercase();
        if i == 0 && (lower == "pid" || lower == "name" || lower == "process" || lower == "command")
        {
            continue; // header
        }
        let pid = fields.iter().find_map(|f| f.parse::<u64>().ok());
        if seen.insert((pid, name.to_string())) {
            let path = if name.starts_with('/') { *name } else { "" };
            out.push(process_record(
                module,
                member,
                i + 1,
                (!name.starts_with('/')).then_some(*name),
                path,
                pid,
            ));
        }
    }
    Ok(out)
}

/// `logdata.statistics.*.jsonl`: `processList[].process`; the `.txt` form:
/// every absolute path on a line.
pub fn logdata_statistics(
    module: &str,
    member: &str,
    data: &[u8],
) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    let jsonl = member.ends_with(".jsonl");
    for (i, line) in text.lines().enumerate() {
        if jsonl {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue;
            };
            let ts = v
                .get("unixTime")
                .and_then(|t| t.as_f64())
                .and_then(crate::time::from_unix_f64);
            for p in v
                .get("processList")
                .and_then(|l| l.as_array())
                .into_iter()
                .flatten()
            {
                let Some(proc_) = p.get("process").and_then(|x| x.as_str()) else {
                    continue;
                };
                if seen.insert(proc_.to_string()) {
                    let path = if proc_.starts_with('/') { proc_ } else { "" };
                    let name = (!proc_.starts_with('/')).then_some(proc_);
                    out.push(process_record(module, member, i + 1, name, path, None).at(ts));
                }
            }
        } else {
            for tok in line.split(|c: char| c.is_whitespace() || c == ',' || c == '"') {
                if tok.starts_with('/') && tok.len() > 1 && seen.insert(tok.to_string()) {
                    out.push(process_record(module, member, i + 1, None, tok, None));
                }
            }
        }
    }
    Ok(out)
}

/// `UUIDToBinaryLocations`: a plist mapping image UUIDs to binary paths.
pub fn uuid_to_binary(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let v: plist::Value = crate::evidence::plist_safe::from_bytes(data)
        .map_err(|e| ModuleError::Failed(format!("{member}: {e}")))?;
    let dict = v
        .as_dictionary()
        .ok_or_else(|| ModuleError::Failed(format!("{member}: not a dictionary")))?;
    let mut out = Vec::new();
    for (uuid, path) in dict {
        let Some(path) = path.as_string() else {
            continue;
        };
        out.push(process_record(module, member, 0, None, path, None).field("uuid", uuid.as_str()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn has(r: &Record, kind: ObservableType, v: &str) -> bool {
        r.observables.iter().any(|o| o.kind == kind && o.value == v)
    }

    #[test]
    fn ps_both_headers() {
        let old = "USER             UID   PID  PPID  %CPU %MEM PRI NI      VSZ    RSS WCHAN    TT  STAT STARTED      TIME COMMAND\n\
root               0     1     0   0.0  0.4  37  0  4226848   8912 -        ??  Ss   14Jan19   7:27.40 /sbin/launchd\n\
mobile           501   312     1   0.0  0.2  31  0  4231040   4096 -        ??  Ss    9:02AM   0:00.31 /usr/libexec/exampled --flag x\n";
        let r = ps("ps", "ps.txt", old.as_bytes()).unwrap();
        assert_eq!(r.len(), 2);
        assert!(has(&r[1], ObservableType::Process, "exampled"));
        assert!(has(
            &r[1],
            ObservableType::FilePath,
            "/usr/libexec/exampled"
        ));
        assert_eq!(r[1].fields["pid"], 312);
        let new = "USER  UID PRSNA   PID  PPID        F  %CPU %MEM PRI NI      VSZ    RSS WCHAN    TT  STAT STARTED      TIME COMMAND\n\
root    0     -    77     1     4004   0.0  0.0   0  0        0      0 -        ??  ?s   Tue09PM   0:00.00 /private/var/tmp/hooker\n";
        let r = ps("ps", "ps.txt", new.as_bytes()).unwrap();
        assert_eq!(r[0].fields["pid"], 77);
        assert!(has(&r[0], ObservableType::Process, "hooker"));
        assert!(ps("ps", "ps.txt", b"garbage").is_err());
    }

    #[test]
    fn spindump_and_taskinfo() {
        let s = "Process:          bh [176]\nUUID:   x\nPath:             /private/var/db/x/bh\n  Binary Images:\n           0x1027f4000 -                ???  bh  <11111111-2222-3333-8444-555555555555>  /private/var/db/x/bh\n           0x102c38000 -        0x102ca3fff  dyld      <22222222-2222-3333-8444-555555555555>  /cores/dyld\n";
        let r = spindump("spindump", "spindump-nosymbols.txt", s.as_bytes()).unwrap();
        assert_eq!(r.len(), 3);
        assert!(has(&r[0], ObservableType::FilePath, "/private/var/db/x/bh"));
        assert!(has(&r[2], ObservableType::FilePath, "/cores/dyld"));
        let t = "num tasks: 2\n\nprocess: \"exampled\" [312]\n\trun time: 5 s\n";
        let r = taskinfo("taskinfo", "taskinfo.txt", t.as_bytes()).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].fields["pid"], 312);
        assert!(has(&r[0], ObservableType::Process, "exampled"));
    }

    #[test]
    fn logdata_and_uuid_map() {
        let j = "{\"unixTime\":1700000000,\"type\":\"x\",\"processList\":[{\"process\":\"/usr/libexec/a\"},{\"process\":\"b\"}]}\nnot json\n";
        let r = logdata_statistics(
            "logdata_statistics",
            "Extra/logdata.statistics.0.jsonl",
            j.as_bytes(),
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert!(r[0].timestamp.is_some());
        let mut d = plist::Dictionary::new();
        d.insert(
            "AAAA".into(),
            plist::Value::String("/private/var/tmp/takePhoto".into()),
        );
        let mut buf = Vec::new();
        plist::to_writer_xml(&mut buf, &plist::Value::Dictionary(d)).unwrap();
        let r = uuid_to_binary("uuid_to_binary", "UUIDToBinaryLocations", &buf).unwrap();
        assert!(has(&r[0], ObservableType::Process, "takePhoto"));
        let jet = "pid,name,priority\n12,SpringBoard,10\n13,pcsd,3\n";
        let r = jetsam("jetsam_priority", "jetsam_priority.csv", jet.as_bytes()).unwrap();
        assert_eq!(r.len(), 2);
        assert!(has(&r[1], ObservableType::Process, "pcsd"));
    }
}
