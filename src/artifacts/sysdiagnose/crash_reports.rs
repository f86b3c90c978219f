//! `crashes_and_spins/**/*.ips`: a one-line JSON header, then a body that is
//! JSON (modern reports), an XML plist or legacy `Key: value` text. The
//! process name and path, the bundle id, the images used, and the process
//! name in the file name are all observables. `summaries/crashes_and_spins.log`
//! lists report paths; their file names name processes too.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::Module;
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};
use crate::strings::base_name;

pub const MODULE: Module = Module {
    name: "crash_reports",
    artifact: "crashes_and_spins/**/*.ips",
    claims: |n| {
        n == SUMMARY || (n.starts_with("crashes_and_spins/") && base_name(n).ends_with(".ips"))
    },
    parse: |_, member, data| {
        if member == SUMMARY {
            summary(member, data)
        } else {
            ips(member, data)
        }
    },
    sweep_too: false,
};

/// The list of reports the sysdiagnose wrote.
const SUMMARY: &str = "summaries/crashes_and_spins.log";

/// `<name>-YYYY-MM-DD-HHMMSS.ips` (or with `-HH-MM-SS`) → `<name>`.
pub fn name_from_file(file: &str) -> Option<&str> {
    let stem = file.rsplit('/').next()?.strip_suffix(".ips")?;
    // Walk back over the date parts: all-digit dash-separated fields.
    let mut end = stem.len();
    let mut digits_fields = 0;
    for (i, part) in stem.rmatch_indices('-') {
        let field = &stem[i + part.len()..end];
        if !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit()) {
            digits_fields += 1;
            end = i;
        } else {
            break;
        }
    }
    (digits_fields >= 4 && end > 0).then(|| &stem[..end])
}

/// Parses `2024-08-30 11:18:54.6207 +0200` (captureTime / header timestamp).
fn parse_time(s: &str) -> Option<jiff::Timestamp> {
    let s = s.trim();
    for fmt in ["%Y-%m-%d %H:%M:%S%.f %z", "%Y-%m-%d %H:%M:%S %z"] {
        if let Ok(z) = jiff::fmt::strtime::parse(fmt, s).and_then(|p| p.to_timestamp()) {
            return Some(z);
        }
    }
    None
}

fn str_at<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| v.get(*k).and_then(|x| x.as_str()))
        .filter(|s| !s.is_empty())
}

fn observe_path(r: &mut Record, path: &str) {
    if path.starts_with('/') {
        r.push_observable(ObservableType::FilePath, path);
        r.push_observable(
            ObservableType::Process,
            path.rsplit('/').next().unwrap_or(path),
        );
    }
}

/// What a report says about the process it is about, and the others it
/// lists.
#[derive(Default)]
struct Facts {
    ts: Option<jiff::Timestamp>,
    names: Vec<String>,
    paths: Vec<String>,
    bundles: Vec<String>,
    images: BTreeSet<String>,
    /// Processes listed in the report besides its own (panics, jetsam).
    names_extra: Vec<String>,
    extra_paths: Vec<String>,
    processes: Vec<Value>,
}

impl Facts {
    /// A modern report's JSON body.
    fn read_json(&mut self, b: &Value) {
        if let Some(t) = str_at(b, &["captureTime"]).and_then(parse_time) {
            self.ts = Some(t);
        }
        if let Some(n) = str_at(b, &["procName"]) {
            self.names.push(n.to_string());
        }
        if let Some(p) = str_at(b, &["procPath"]) {
            self.paths.push(p.to_string());
        }
        if let Some(id) = b
            .pointer("/bundleInfo/CFBundleIdentifier")
            .and_then(|x| x.as_str())
        {
            self.bundles.push(id.to_string());
        }
        for img in b
            .get("usedImages")
            .and_then(|x| x.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(p) = str_at(img, &["path"]) {
                self.images.insert(p.to_string());
            }
        }
        // Kernel panics (210, 151 forceReset) list every process by pid.
        if let Some(by_pid) = b.get("processByPid").and_then(|x| x.as_object()) {
            for (key, p) in by_pid {
                let name = str_at(p, &["procname", "procName", "name"]);
                let path = str_at(p, &["procpath", "procPath", "path"]);
                let pid = p
                    .get("pid")
                    .and_then(Value::as_i64)
                    .or_else(|| key.parse().ok());
                if let Some(n) = name {
                    self.names_extra.push(n.to_string());
                }
                if let Some(x) = path {
                    self.extra_paths.push(x.to_string());
                }
                self.processes
                    .push(json!({"pid": pid, "name": name, "path": path}));
            }
        }
        // Jetsam events (298) list every process by name.
        for p in b
            .get("processes")
            .and_then(|x| x.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(n) = str_at(p, &["name"]) {
                self.names.push(n.to_string());
            }
        }
    }

    /// An XML plist body.
    fn read_plist(&mut self, p: &plist::Value) {
        let d = p.as_dictionary();
        for (k, list) in [
            ("procName", &mut self.names),
            ("procPath", &mut self.paths),
            ("bundleID", &mut self.bundles),
        ] {
            if let Some(s) = d.and_then(|d| d.get(k)).and_then(|v| v.as_string()) {
                list.push(s.to_string());
            }
        }
    }

    /// Legacy text: `Process:  name [pid]`, `Path:  /x`, `Identifier: id`,
    /// Binary Images lines ending in a path.
    fn read_legacy(&mut self, body: &str) {
        let mut in_images = false;
        for line in body.lines() {
            let t = line.trim();
            if let Some(v) = t.strip_prefix("Process:") {
                let n = v.trim().split(" [").next().unwrap_or("").trim();
                self.names.push(n.to_string());
            } else if let Some(v) = t.strip_prefix("Path:") {
                self.paths.push(v.trim().to_string());
            } else if let Some(v) = t.strip_prefix("Identifier:") {
                self.bundles.push(v.trim().to_string());
            } else if t.starts_with("Binary Images") {
                in_images = true;
            } else if in_images && t.starts_with("0x") {
                if let Some(i) = t.find(" /") {
                    self.images.insert(t[i + 1..].trim().to_string());
                }
            } else if t.is_empty() {
                in_images = false;
            }
        }
    }
}

/// One record per report.
pub fn ips(member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let (head_line, body) = text.split_once('\n').unwrap_or((&text, ""));
    let header: Value = serde_json::from_str(head_line.trim()).map_err(|e| {
        ModuleError::Failed(format!(
            "{member}: the first line is not a JSON header ({e})"
        ))
    })?;
    let body_json: Option<Value> = serde_json::from_str(body.trim()).ok();
    let body_plist: Option<plist::Value> =
        if body_json.is_none() && body.trim_start().starts_with("<?xml") {
            crate::evidence::plist_safe::from_bytes(body.trim().as_bytes()).ok()
        } else {
            None
        };
    let bug_type = header.get("bug_type").map(|b| {
        b.as_str()
            .map(str::to_string)
            .unwrap_or_else(|| b.to_string())
    });
    let mut f = Facts::default();
    for k in ["app_name", "name", "procName"] {
        if let Some(n) = str_at(&header, &[k]) {
            f.names.push(n.to_string());
        }
    }
    if let Some(b) = str_at(&header, &["bundleID"]) {
        f.bundles.push(b.to_string());
    }
    f.ts = str_at(&header, &["timestamp"]).and_then(parse_time);
    if let Some(b) = &body_json {
        f.read_json(b);
    } else if let Some(p) = &body_plist {
        f.read_plist(p);
    } else {
        f.read_legacy(body);
    }
    Ok(vec![report_record(member, bug_type, f)])
}

fn report_record(member: &str, bug_type: Option<String>, f: Facts) -> Record {
    let Facts {
        ts,
        mut names,
        paths,
        bundles,
        images,
        names_extra,
        extra_paths,
        mut processes,
    } = f;
    if let Some(n) = name_from_file(member) {
        names.push(n.to_string());
    }
    names.retain(|n| !n.is_empty());
    names.dedup();
    let own = names.first().cloned();
    // Processes the report lists besides its own (they do not name it).
    for n in names_extra {
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    }
    let main = own
        .clone()
        .or_else(|| paths.first().cloned())
        .unwrap_or_else(|| "?".into());
    let mut r = Record::new(MODULE.name, member)
        .at(ts)
        .event(
            "crash_report",
            format!(
                "report of {main} (bug type {})",
                bug_type.as_deref().unwrap_or("?")
            ),
        )
        .field("member", member)
        .field("bug_type", bug_type)
        .field("proc_name", own)
        .field("proc_path", paths.first().cloned())
        .field("bundle_id", bundles.first().cloned())
        .field("used_images", images.len());
    if !processes.is_empty() {
        processes.sort_by_key(|p| p["pid"].as_i64());
        r = r.field("processes", Value::Array(processes));
    }
    for n in &names {
        r.push_observable(ObservableType::Process, n.as_str());
    }
    for p in paths.iter().chain(&extra_paths) {
        observe_path(&mut r, p);
    }
    for b in &bundles {
        r.push_observable(ObservableType::AppId, b.as_str());
    }
    for p in &images {
        observe_path(&mut r, p);
    }
    r
}

/// `summaries/crashes_and_spins.log`: lines starting with `/` are report paths.
pub fn summary(member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if !line.starts_with('/') {
            continue;
        }
        let path = line.split(',').next().unwrap_or(line).trim();
        let mut r = Record::new(MODULE.name, member)
            .event("crash_report_listed", path.to_string())
            .field("member", member)
            .field("line", i + 1)
            .field("path", path)
            .observe(ObservableType::FilePath, path);
        if let Some(n) = name_from_file(path) {
            r.push_observable(ObservableType::Process, n);
        }
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_files() {
        assert_eq!(
            name_from_file("crashes_and_spins/ExampleApp-2024-01-01-101010.ips"),
            Some("ExampleApp")
        );
        assert_eq!(
            name_from_file("x/com.apple.WebKit.Networking-2024-01-01-10-10-10.ips"),
            Some("com.apple.WebKit.Networking")
        );
        assert_eq!(
            name_from_file("x/JetsamEvent-2024-01-01-101010.ips"),
            Some("JetsamEvent")
        );
        assert_eq!(name_from_file("x/weird.ips"), None);
    }

    #[test]
    fn json_report() {
        let text = concat!(
            "{\"app_name\":\"bh\",\"timestamp\":\"2024-08-30 11:18:54.00 +0200\",\"bug_type\":\"309\",\"bundleID\":\"com.example.app\"}\n",
            "{\"procName\":\"bh\",\"procPath\":\"/private/var/db/com.apple.xpc.roleaccountd.staging/bh\",",
            "\"captureTime\":\"2024-08-30 11:18:54.6207 +0200\",",
            "\"usedImages\":[{\"path\":\"/usr/lib/dyld\"},{\"path\":\"/private/var/tmp/hooker\"}]}\n"
        );
        let r = &ips(
            "crashes_and_spins/bh-2024-08-30-111854.ips",
            text.as_bytes(),
        )
        .unwrap()[0];
        assert_eq!(
            r.timestamp.unwrap().to_string(),
            "2024-08-30T09:18:54.6207Z"
        );
        assert_eq!(r.fields["bug_type"], "309");
        let has = |k, v: &str| r.observables.iter().any(|o| o.kind == k && o.value == v);
        assert!(has(ObservableType::Process, "bh"));
        assert!(has(
            ObservableType::FilePath,
            "/private/var/db/com.apple.xpc.roleaccountd.staging/bh"
        ));
        assert!(has(ObservableType::FilePath, "/private/var/tmp/hooker"));
        assert!(has(ObservableType::AppId, "com.example.app"));
        assert!(ips("x.ips", b"not json\n{}").is_err());
    }

    /// The iOS 16 forceReset panic format (bug type 151): a header line,
    /// then a JSON body whose `processByPid` lists every process. Before,
    /// none of them became an observable.
    #[test]
    fn panic_process_by_pid() {
        let text = concat!(
            "{\"bug_type\":\"151\",\"timestamp\":\"2022-12-24 11:43:00.47 +0100\",\"os_version\":\"iPhone OS 16.2 (20C65)\"}\n",
            "{\n  \"build\" : \"iPhone OS 16.2 (20C65)\",\n  \"processByPid\" : {\n",
            "    \"0\" : {\"pid\" : 0, \"procname\" : \"kernel_task\", \"threadById\" : {}},\n",
            "    \"1\" : {\"pid\" : 1, \"procname\" : \"launchd\"},\n",
            "    \"77\" : {\"procname\" : \"bh\", \"procpath\" : \"/private/var/db/com.apple.xpc.roleaccountd.staging/bh\"}\n",
            "  }\n}\n"
        );
        let r = &ips(
            "crashes_and_spins/Panics/panic-full-2022-12-24-114300.ips",
            text.as_bytes(),
        )
        .unwrap()[0];
        assert_eq!(r.timestamp.unwrap().to_string(), "2022-12-24T10:43:00.47Z");
        let has = |k, v: &str| r.observables.iter().any(|o| o.kind == k && o.value == v);
        for n in ["kernel_task", "launchd", "bh"] {
            assert!(has(ObservableType::Process, n), "{n}");
        }
        assert!(has(
            ObservableType::FilePath,
            "/private/var/db/com.apple.xpc.roleaccountd.staging/bh"
        ));
        let procs = r.fields.get("processes").unwrap().as_array().unwrap();
        assert_eq!(procs.len(), 3);
        assert_eq!(procs[2]["pid"], 77);
        assert_eq!(procs[0]["name"], "kernel_task");
        // The report is named after its file, not after a listed process.
        assert_eq!(r.fields.get("proc_name").unwrap(), "panic-full");
        assert!(r.fields.get("proc_path").unwrap().is_null());
    }

    #[test]
    fn times_keep_their_offsets() {
        for (stamp, utc) in [
            ("2023-01-01 10:00:00.00 +0100", "2023-01-01T09:00:00Z"),
            ("2023-01-01 00:30:00.00 +0300", "2022-12-31T21:30:00Z"),
            ("2023-01-01 22:00:00 -0500", "2023-01-02T03:00:00Z"),
            ("2023-01-01 10:00:00.00 +0000", "2023-01-01T10:00:00Z"),
        ] {
            let text =
                format!("{{\"bug_type\":\"109\",\"timestamp\":\"{stamp}\"}}\nProcess: x [1]\n");
            let r = &ips("a.ips", text.as_bytes()).unwrap()[0];
            assert_eq!(r.timestamp.unwrap().to_string(), utc, "{stamp}");
        }
    }

    #[test]
    fn legacy_text_report() {
        let text = "{\"bug_type\":109}\nProcess:   takePhoto [77]\nPath:   /private/var/tmp/takePhoto\nIdentifier: takePhoto\n\nBinary Images:\n0x1 - 0x2 takePhoto arm64 <abc> /private/var/tmp/takePhoto\n";
        let r = &ips("a.ips", text.as_bytes()).unwrap()[0];
        assert_eq!(r.fields["bug_type"], "109");
        assert!(
            r.observables
                .iter()
                .any(|o| o.value == "/private/var/tmp/takePhoto")
        );
    }
}
