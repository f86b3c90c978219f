//! `system_logs.logarchive/Extra/shutdown*.log`: the processes launchd still
//! had to wait for at each reboot (Kaspersky's iShutdown method).
//!
//! A reboot record is a run of `After <t>s, these clients are still here:`
//! blocks, each followed by `remaining client pid: <pid> (<path>)` lines, and
//! ends with `SIGTERM: [<unix seconds>]`. One record per client per reboot.

use serde_json::json;

use super::{LOGARCHIVE_EXTRA, Module};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};
use crate::strings::base_name;

pub const MODULE: Module = Module {
    name: "shutdown_log",
    artifact: "system_logs.logarchive/Extra/shutdown*.log",
    claims: |n| {
        let b = base_name(n);
        n.starts_with(LOGARCHIVE_EXTRA) && b.starts_with("shutdown") && b.ends_with(".log")
    },
    parse: |_, member, data| records(member, data),
    sweep_too: false,
};

/// Prefixes where iOS's own executables live. A daemon-like name running
/// from anywhere else is unusual.
const SYSTEM_PREFIXES: [&str; 9] = [
    "/System/",
    "/usr/",
    "/sbin/",
    "/bin/",
    "/Applications/",
    "/private/var/containers/Bundle/Application/",
    "/var/containers/Bundle/Application/",
    "/Developer/",
    "/AppleInternal/",
];

/// Folders from which published spyware ran (Pegasus, Reign: `/private/var/db/`;
/// Predator: `/private/var/tmp/`, `/tmp/`).
const UNUSUAL_PREFIXES: [&str; 5] = [
    "/private/var/db/",
    "/private/var/tmp/",
    "/var/db/",
    "/var/tmp/",
    "/tmp/",
];

/// Waits before one reboot from which a client counts as sticky (iShutdown).
const STICKY_WAITS: usize = 3;

#[derive(Debug, Clone, PartialEq)]
struct Client {
    pid: u64,
    path: String,
    /// Waits (blocks) this client appeared in.
    waits: usize,
    /// Largest delay (seconds since SIGTERM) at which it was still there.
    max_delay: f64,
    /// 1-based line where it first appears in this reboot.
    line: usize,
}

#[derive(Debug, Default)]
struct Reboot {
    clients: Vec<Client>,
    blocks: usize,
    sigterm: Option<i64>,
    /// 1-based line of the SIGTERM line, or of the last line read.
    line: usize,
}

/// Whether `s` is a UUID (8-4-4-4-12 hex).
pub fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Splits a trailing `/<UUID>` off a client path; only a real UUID is split.
pub fn split_uuid(path: &str) -> (&str, Option<&str>) {
    match path.rsplit_once('/') {
        Some((exe, last)) if is_uuid(last) && !exe.is_empty() => (exe, Some(last)),
        _ => (path, None),
    }
}

fn parse_sigterm(line: &str) -> Option<i64> {
    let rest = line.split_once('[')?.1;
    let digits = rest.split_once(']')?.0.trim();
    digits.parse().ok().or_else(|| {
        // MVT's fallback: ten digits after " @".
        let at = line.split_once(" @")?.1;
        at.get(..10)?.parse().ok()
    })
}

fn parse(text: &str) -> Vec<Reboot> {
    let mut reboots = Vec::new();
    let mut cur = Reboot::default();
    let mut delay = 0.0f64;
    let mut seen: std::collections::HashMap<(u64, String), usize> = Default::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(rest) = line.strip_prefix("After ") {
            cur.blocks += 1;
            delay = rest
                .split_once("s,")
                .and_then(|(t, _)| t.trim().parse::<f64>().ok())
                .unwrap_or(delay);
            cur.line = i + 1;
        } else if let Some(rest) = line.strip_prefix("remaining client pid:") {
            let rest = rest.trim();
            let (pid, path) = match rest.split_once('(') {
                Some((pid, path)) => (pid.trim(), path.strip_suffix(')').unwrap_or(path)),
                None => (rest, ""),
            };
            let pid: u64 = pid.parse().unwrap_or(0);
            let path = path.to_string();
            // An index, not a scan of the clients: a log of many distinct
            // clients would otherwise be quadratic.
            match seen.get(&(pid, path.clone())) {
                Some(&k) => {
                    let c = &mut cur.clients[k];
                    c.waits += 1;
                    c.max_delay = c.max_delay.max(delay);
                }
                None => {
                    seen.insert((pid, path.clone()), cur.clients.len());
                    cur.clients.push(Client {
                        pid,
                        path,
                        waits: 1,
                        max_delay: delay,
                        line: i + 1,
                    });
                }
            }
            cur.line = i + 1;
        } else if line.starts_with("SIGTERM") {
            cur.sigterm = parse_sigterm(line);
            cur.line = i + 1;
            reboots.push(std::mem::take(&mut cur));
            seen.clear();
            delay = 0.0;
        }
    }
    if cur.blocks > 0 || !cur.clients.is_empty() {
        reboots.push(cur);
    }
    reboots
}

fn is_daemon_like(name: &str) -> bool {
    name.starts_with("com.apple.")
        || (name.len() > 2
            && name.ends_with('d')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
}

/// Turns one shutdown log into records.
pub fn records(member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let reboots = parse(&text);
    let terminated = reboots.iter().filter(|r| r.sigterm.is_some()).count();
    let mut out = Vec::new();
    let summary = Record::new(MODULE.name, member)
        .event(
            "shutdown_log",
            format!("{member}: {} reboot record(s)", terminated),
        )
        .field("member", member)
        .field("reboots", terminated)
        .field("bytes", data.len());
    if text.trim().is_empty() {
        out.push(summary.alert(
            &crate::rules::SHUTDOWN_LOG_EMPTY,
            format!("{member} is empty: it may have been wiped (a trait reported for Pegasus in 2022), or the device was never rebooted"),
        ));
    } else if terminated <= 1 {
        out.push(summary.alert(
            &crate::rules::SHUTDOWN_LOG_SINGLE_RECORD,
            format!("{member} holds a single reboot record: it may have been cleared (on iOS 26 it is overwritten at each reboot)"),
        ));
    } else {
        out.push(summary);
    }
    for (n, reboot) in reboots.iter().enumerate() {
        let ts = reboot.sigterm.and_then(crate::time::from_unix);
        for c in &reboot.clients {
            out.push(client_record(member, n + 1, reboot, ts, c));
        }
    }
    Ok(out)
}

fn client_record(
    member: &str,
    index: usize,
    reboot: &Reboot,
    ts: Option<jiff::Timestamp>,
    c: &Client,
) -> Record {
    let (exe, uuid) = split_uuid(&c.path);
    let base = exe.rsplit('/').next().unwrap_or(exe);
    let mut r = Record::new(MODULE.name, member)
        .at(ts)
        .event(
            "process_at_shutdown",
            format!(
                "{exe} (pid {}) still running {:.2}s after SIGTERM, in {} wait(s)",
                c.pid, c.max_delay, c.waits
            ),
        )
        .field("member", member)
        .field("line", c.line)
        .field("sigterm_line", reboot.line)
        .field("reboot", index)
        .field("reboot_time", ts.map(|t| t.to_string()))
        .field("terminated", reboot.sigterm.is_some())
        .field("pid", c.pid)
        .field("path", c.path.as_str())
        .field("exe_path", exe)
        .field("uuid", uuid)
        .field("delay_s", json!(c.max_delay))
        .field("waits", c.waits)
        .field("waits_in_reboot", reboot.blocks);
    // Every path component, not only the base name: Pegasus ran as
    // `.../roleaccountd.staging/<name>/<uuid>` (MVT does the same).
    for comp in exe.split('/').filter(|s| !s.is_empty()) {
        r.push_observable(ObservableType::Process, comp);
    }
    if exe.starts_with('/') {
        r.push_observable(ObservableType::FilePath, exe);
    }
    if c.waits >= STICKY_WAITS {
        r = r.alert(
            &crate::rules::SHUTDOWN_LOG_STICKY_PROCESS,
            format!("{exe} delayed a reboot {} times (3 or more waits is the sticky-process trait Kaspersky tied to Pegasus)", c.waits),
        );
    }
    if let Some(prefix) = UNUSUAL_PREFIXES.iter().find(|p| exe.starts_with(*p)) {
        r = r.alert(
            &crate::rules::SHUTDOWN_LOG_UNUSUAL_PATH,
            format!("{exe} ran from {prefix}, where iOS keeps data, not programs (Pegasus, Reign and Predator ran from such folders)"),
        );
    } else if exe.starts_with('/')
        && is_daemon_like(base)
        && !SYSTEM_PREFIXES.iter().any(|p| exe.starts_with(p))
    {
        r = r.alert(
            &crate::rules::SHUTDOWN_LOG_DAEMON_OUTSIDE_SYSTEM,
            format!(
                "{base} looks like a system daemon but ran from {exe}, outside the system folders"
            ),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "After 0.01s, these clients are still here:\n\
\t\tremaining client pid: 311 (/usr/libexec/exampled/1F0C2B9A-4D3E-3A21-8B7C-0D1E2F3A4B5C)\n\
\t\tremaining client pid: 402 (/usr/sbin/foosyncd)\n\
After 0.51s, these clients are still here:\n\
\t\tremaining client pid: 402 (/usr/sbin/foosyncd)\n\
SIGTERM: [1700000000] All buffers flushed\n\
After 0.02s, these clients are still here:\n\
\t\tremaining client pid: 95 (/private/var/db/com.apple.xpc.roleaccountd.staging/mptbd/42286BD8-3758-3B85-B19F-6E1FDB2CB030)\n\
After 1.03s, these clients are still here:\n\
\t\tremaining client pid: 95 (/private/var/db/com.apple.xpc.roleaccountd.staging/mptbd/42286BD8-3758-3B85-B19F-6E1FDB2CB030)\n\
After 2.04s, these clients are still here:\n\
\t\tremaining client pid: 95 (/private/var/db/com.apple.xpc.roleaccountd.staging/mptbd/42286BD8-3758-3B85-B19F-6E1FDB2CB030)\n\
\t\tremaining client pid: 96 (/private/var/mobile/Library/locationd)\n\
SIGTERM: [1700086400] All buffers flushed\n\
After 0.03s, these clients are still here:\n\
\t\tremaining client pid: 97 (/usr/libexec/late)\n";

    #[test]
    fn uuid_split_only_for_uuids() {
        assert_eq!(
            split_uuid("/a/mptbd/42286BD8-3758-3B85-B19F-6E1FDB2CB030"),
            ("/a/mptbd", Some("42286BD8-3758-3B85-B19F-6E1FDB2CB030"))
        );
        assert_eq!(
            split_uuid("/usr/sbin/foosyncd"),
            ("/usr/sbin/foosyncd", None)
        );
        assert_eq!(
            split_uuid("/usr/sbin/42286BD8-3758"),
            ("/usr/sbin/42286BD8-3758", None)
        );
    }

    #[test]
    fn reboots_clients_and_heuristics() {
        let recs = records("Extra/shutdown.log", LOG.as_bytes()).unwrap();
        // summary + 2 + 2 + 1 (unterminated tail)
        assert_eq!(recs.len(), 6);
        assert!(recs[0].alerts.is_empty());
        let foo = &recs[2];
        assert_eq!(foo.fields["waits"], 2);
        assert_eq!(foo.timestamp.unwrap().as_second(), 1_700_000_000);
        let pegasus = &recs[3];
        assert_eq!(
            pegasus.fields["exe_path"],
            "/private/var/db/com.apple.xpc.roleaccountd.staging/mptbd"
        );
        assert_eq!(
            pegasus.fields["uuid"],
            "42286BD8-3758-3B85-B19F-6E1FDB2CB030"
        );
        assert_eq!(pegasus.fields["waits"], 3);
        assert_eq!(pegasus.fields["delay_s"], 2.04);
        assert!(
            pegasus
                .observables
                .iter()
                .any(|o| o.kind == ObservableType::Process && o.value == "mptbd")
        );
        assert!(
            pegasus
                .observables
                .iter()
                .any(|o| o.kind == ObservableType::FilePath
                    && o.value == "/private/var/db/com.apple.xpc.roleaccountd.staging/mptbd")
        );
        assert!(
            !pegasus
                .observables
                .iter()
                .any(|o| o.value.contains("42286BD8"))
        );
        let rules: Vec<&str> = pegasus.alerts.iter().map(|a| a.rule.as_str()).collect();
        assert_eq!(
            rules,
            ["shutdown_log.sticky_process", "shutdown_log.unusual_path"]
        );
        let locationd = &recs[4];
        assert_eq!(
            locationd.alerts[0].rule,
            "shutdown_log.daemon_outside_system"
        );
        let tail = &recs[5];
        assert_eq!(tail.fields["terminated"], false);
        assert!(tail.timestamp.is_none());
        // Ordinary system clients raise nothing.
        assert!(recs[1].alerts.is_empty() && recs[2].alerts.is_empty());
    }

    #[test]
    fn empty_and_single() {
        let r = records("shutdown.log", b"").unwrap();
        assert_eq!(r[0].alerts[0].rule, "shutdown_log.empty");
        let one = "After 0.01s, these clients are still here:\n\t\tremaining client pid: 1 (/usr/bin/x)\nSIGTERM: [1700000000]\n";
        let r = records("shutdown.log", one.as_bytes()).unwrap();
        assert_eq!(r[0].alerts[0].rule, "shutdown_log.single_record");
        // Non-UTF-8 bytes do not stop the parse.
        let mut bad = LOG.as_bytes().to_vec();
        bad.extend_from_slice(b"\xff\xfe garbage\nSIGTERM: [notanumber] @1700090000 x\n");
        let r = records("shutdown.log", &bad).unwrap();
        assert_eq!(
            r.last().unwrap().timestamp.unwrap().as_second(),
            1_700_090_000
        );
    }
}
