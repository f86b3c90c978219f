//! Running processes: `ps -A` text (`ps.txt`, `processes.txt`) or the
//! collector's JSON list (`processes.json`; current androidqf writes that
//! JSON as `processes.txt` when its collector ran, so the content decides).
//! Names are matched as processes and app ids.

use serde_json::Value;

use super::{Acquired, AqfModule, AqfRead};
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: AqfModule = AqfModule {
    name: "aqf_processes",
    artifact: "processes",
    read: AqfRead::Files(run),
};

/// `processes.json` when the collector wrote it, else `ps.txt` or
/// `processes.txt`.
fn run(q: &Acquired<'_>) -> Result<Vec<Record>, ModuleError> {
    let s = q.src;
    if let Some(m) = s.find("processes.json") {
        let d = s.read(m)?;
        return parse_json(&d, &m.name).map_err(ModuleError::Failed);
    }
    let m = s
        .find("ps.txt")
        .or_else(|| s.find("processes.txt"))
        .ok_or(ModuleError::Missing)?;
    let text = s.read_text(m)?;
    if text.trim_start().starts_with('[') {
        return parse_json(text.as_bytes(), &m.name).map_err(ModuleError::Failed);
    }
    Ok(parse_text(&text, &m.name))
}

/// One process record: the name is a process, an app id when it is a
/// package (`pkg:service`), a path and its base name when it is a path.
pub(crate) fn record(
    module: &str,
    artifact: &str,
    name: &str,
    pid: &str,
    user: &str,
    label: &str,
) -> Record {
    let mut r = Record::new(module, artifact)
        .event("process", format!("{name} (pid {pid}, user {user})"))
        .field("proc_name", name)
        .field("pid", pid)
        .field("user", user)
        .field("label", label);
    // MVT skips it: a stock daemon (Android 6+) whose name is also a
    // published process indicator.
    if name != "gatekeeperd" {
        r.push_observable(ObservableType::Process, name);
    }
    // App processes are named after their package (`pkg:service`).
    let app = name.split(':').next().unwrap_or(name);
    if app.contains('.') && !app.starts_with('/') {
        r.push_observable(ObservableType::AppId, app);
    }
    if name.starts_with('/') {
        r.push_observable(ObservableType::FilePath, name);
        r.push_observable(
            ObservableType::Process,
            name.rsplit('/').next().unwrap_or(name),
        );
    }
    r
}

pub fn parse_text(text: &str, artifact: &str) -> Vec<Record> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let mut tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.is_empty() {
            continue;
        }
        let label = if tokens[0].starts_with("u:r") {
            tokens.remove(0)
        } else {
            ""
        };
        if tokens.len() < 8 {
            continue;
        }
        let name = tokens[tokens.len() - 1].trim_matches(|c| c == '[' || c == ']');
        if name == "gatekeeperd" {
            // MVT skips it: a stock daemon whose name collides with indicators.
            continue;
        }
        out.push(record(
            MODULE.name,
            artifact,
            name,
            tokens[1],
            tokens[0],
            label,
        ));
    }
    out
}

/// The strings of a JSON array (other values and a missing array: none).
pub(crate) fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn parse_json(data: &[u8], artifact: &str) -> Result<Vec<Record>, String> {
    let items: Vec<Value> =
        serde_json::from_slice(data).map_err(|e| format!("{artifact}: not a JSON array: {e}"))?;
    let mut out = Vec::new();
    for p in items {
        let cmd = strings(p.get("command_line"));
        let name = p
            .get("filename")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| cmd.first().cloned())
            .unwrap_or_default();
        if name.is_empty() {
            continue;
        }
        let pid = p.get("pid").map(|v| v.to_string()).unwrap_or_default();
        let user = p.get("uid").map(|v| v.to_string()).unwrap_or_default();
        let label = p.get("context").and_then(Value::as_str).unwrap_or("");
        let mut r = record(MODULE.name, artifact, &name, &pid, &user, label)
            .field("command_line", cmd.clone());
        if let Some(path) = p.get("path").and_then(Value::as_str) {
            r.push_observable(ObservableType::FilePath, path);
        }
        if let Some(first) = cmd.first() {
            r.push_observable(
                ObservableType::Process,
                first.rsplit('/').next().unwrap_or(first),
            );
            let app = first.split(':').next().unwrap_or(first);
            if app.contains('.') && !app.starts_with('/') {
                r.push_observable(ObservableType::AppId, app);
            }
        }
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collector_json_and_ps_text() {
        let json = br#"[{"pid":1,"uid":0,"ppid":0,"filename":"init","command_line":["/system/bin/init","second_stage"],"context":"u:r:init:s0","path":"/system/bin/init"},
                        {"pid":4242,"uid":10150,"ppid":700,"filename":"","command_line":["com.example.app:remote"],"context":"u:r:untrusted_app:s0"}]"#;
        let r = parse_json(json, "processes.json").unwrap();
        assert_eq!(r.len(), 2);
        assert!(
            r[0].observables
                .iter()
                .any(|o| o.kind == ObservableType::FilePath && o.value == "/system/bin/init")
        );
        assert!(
            r[1].observables
                .iter()
                .any(|o| o.kind == ObservableType::AppId && o.value == "com.example.app")
        );
        assert!(
            parse_json(b"{not json", "processes.json")
                .unwrap_err()
                .contains("processes.json")
        );
        let text = "USER PID PPID VSZ RSS WCHAN ADDR S NAME\nu:r:init:s0 root 1 0 100 10 0 0 S init\nroot 2 0 0 0 0 0 S [kthreadd]\nroot 3 0 0 0 0 0 S gatekeeperd\n";
        let r = parse_text(text, "ps.txt");
        let names: Vec<_> = r
            .iter()
            .map(|r| r.fields["proc_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["init", "kthreadd"]);
        assert_eq!(r[0].fields["label"], "u:r:init:s0");
    }
}
