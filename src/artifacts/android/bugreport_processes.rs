//! The dumpstate `------ PROCESSES AND THREADS (ps ...) ------` table, as
//! MVT's bugreport `processes` module reads it: one record per row (process
//! or thread), columns named by the header. Android 7+ prints
//! `LABEL USER PID TID PPID VSZ RSS WCHAN ADDR S PRI NI RTPRIO SCH PCY TIME CMD`;
//! older `ps -t -p -P` prints `USER PID PPID VSIZE RSS PRIO NICE RTPRI SCHED
//! PCY WCHAN PC NAME` with an unlabelled state letter before NAME (MVT
//! reads no row of that older form; spydar does).

use super::{DumpRead, DumpstateModule, Part};
use crate::model::Record;

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "processes",
    in_androidqf: None,
    part: Part::Command("PROCESSES AND THREADS"),
    read: DumpRead::Parse(|block, d| parse(block, d.artifact)),
};

/// Header name → field name (MVT's names where MVT has one).
fn field_name(header: &str) -> Option<&'static str> {
    Some(match header {
        "LABEL" => "label",
        "USER" => "user",
        "PID" => "pid",
        "TID" => "tid",
        "PPID" => "ppid",
        "VSZ" | "VSIZE" => "virtual_memory_size",
        "RSS" => "resident_set_size",
        "WCHAN" => "wchan",
        "ADDR" => "address",
        "PC" => "pc",
        "S" => "state",
        "PRI" | "PRIO" => "priority",
        "NI" | "NICE" => "nice",
        "RTPRIO" | "RTPRI" => "realtime_priority",
        "SCH" | "SCHED" => "scheduler",
        "PCY" => "policy",
        "TIME" => "cpu_time",
        "CMD" | "NAME" => "command",
        _ => return None,
    })
}

const NUMERIC: &[&str] = &["pid", "tid", "ppid"];

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    let mut lines = section.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let headers: Vec<&str> = header.split_whitespace().collect();
    let Some(keys) = headers
        .iter()
        .map(|h| field_name(h))
        .collect::<Option<Vec<_>>>()
    else {
        return Vec::new();
    };
    if keys.last() != Some(&"command") {
        return Vec::new();
    }
    let has_state = keys.contains(&"state");
    let mut out = Vec::new();
    'rows: for line in lines {
        // Every column but the last is one token; the command may hold spaces.
        let mut rest = line.trim();
        let mut values: Vec<(&str, &str)> = Vec::with_capacity(keys.len() + 1);
        for key in &keys[..keys.len() - 1] {
            let Some((v, r)) = rest.split_once(char::is_whitespace) else {
                continue 'rows;
            };
            values.push((key, v));
            rest = r.trim_start();
        }
        if !has_state
            && let Some((s, r)) = rest.split_once(' ')
            && s.len() == 1
            && s.bytes().all(|b| b.is_ascii_uppercase())
            && !r.trim().is_empty()
        {
            values.push(("state", s));
            rest = r.trim_start();
        }
        if values
            .iter()
            .any(|(k, v)| NUMERIC.contains(k) && v.parse::<u64>().is_err())
        {
            continue;
        }
        let command = rest.trim_matches(|c| c == '[' || c == ']');
        if command.is_empty() {
            continue;
        }
        let get = |k: &str| {
            values
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| *v)
                .unwrap_or("")
        };
        let pid = get("pid");
        let mut r = super::aqf_processes::record(
            MODULE.name,
            artifact,
            command,
            pid,
            get("user"),
            get("label"),
        )
        .field("command", command);
        for (k, v) in &values {
            if !matches!(*k, "pid" | "user" | "label") {
                r = r.field(k, *v);
            }
        }
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ObservableType;

    #[test]
    fn modern_and_legacy_tables() {
        let modern = "LABEL                          USER           PID   TID  PPID        VSZ    RSS WCHAN            ADDR S PRI  NI RTPRIO SCH  PCY      TIME CMD\n\
u:r:init:s0                    root             1     1     0   10782796   9392 do_epoll_wait       0 S  19   0      -   0   fg  00:00:05 init\n\
u:r:system_server:s0           system        1234  1250   700   15000000 300000 futex_wait_queue_me 0 S  18   1      -   0   fg  00:00:01 Jit thread pool\n";
        let r = parse(modern, "dumpstate");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].fields["command"], "init");
        assert_eq!(r[0].fields["label"], "u:r:init:s0");
        assert_eq!(r[1].fields["command"], "Jit thread pool");
        assert_eq!(r[1].fields["tid"], "1250");
        let legacy = "USER     PID   PPID  VSIZE  RSS   PRIO  NICE  RTPRI SCHED  PCY  WCHAN    PC         NAME\n\
root      1     0     328    184   20    0     0     0     fg  ffffffff 00000000 S /init\n\
media     141   116   22904  4640  1     -19   0     0     fg  ffffffff 00000000 S Playback Thread\n";
        let r = parse(legacy, "dumpstate");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].fields["command"], "/init");
        assert_eq!(r[0].fields["state"], "S");
        assert!(
            r[0].observables
                .iter()
                .any(|o| o.kind == ObservableType::Process && o.value == "init")
        );
        assert_eq!(r[1].fields["command"], "Playback Thread");
        assert!(parse("FOO BAR\n1 2\n", "x").is_empty());
    }
}
