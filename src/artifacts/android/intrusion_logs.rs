//! Android 16 Advanced Protection "intrusion logging" exports: the
//! newline-delimited JSON the phone writes when the person downloads and
//! decrypts their logs (`/sdcard/Download/Intrusion Logging/`), one event a
//! line: `{"dns_event":{...}}`, `{"connect_event":{...}}`,
//! `{"security_event":{...}}`. Read as MVT's `check-intrusion-logs` reads
//! them (every `.txt` file, nested `.zip` files too; an event repeated in
//! overlapping daily files counted once), as their own input (a folder or a
//! zip) and inside androidqf (`intrusion_logs/`). Module names are MVT's
//! slugs. Host names, IP addresses, packages, processes, APK hashes and
//! file paths are typed observables; MVT's security-event heuristics are
//! warnings.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::Timestamp;
use serde_json::{Map, Value};

use super::{Acquired, AqfModule, AqfRead, android_device, job, run_jobs};
use crate::artifacts::{ModuleError, ScanOptions};
use crate::error::{Error, Result};
use crate::evidence::zip_source::Source;
use crate::model::{DeviceScan, ObservableType, Record};
use crate::rules;

/// Where androidqf puts the exports.
const AQF_DIR: &str = "intrusion_logs/";

/// The modules inside an androidqf acquisition (`intrusion_logs/`).
pub const ANDROIDQF_DNS: AqfModule = AqfModule {
    name: "dns_event",
    artifact: AQF_DIR,
    read: AqfRead::Files(|q| run(q, AQF_DIR, Kind::Dns)),
};
pub const ANDROIDQF_CONNECT: AqfModule = AqfModule {
    name: "connect_event",
    artifact: AQF_DIR,
    read: AqfRead::Files(|q| run(q, AQF_DIR, Kind::Connect)),
};
pub const ANDROIDQF_SECURITY: AqfModule = AqfModule {
    name: "security_event",
    artifact: AQF_DIR,
    read: AqfRead::Files(|q| run(q, AQF_DIR, Kind::Security)),
};

/// The modules of an intrusion-log export given on its own.
pub const MODULES: &[AqfModule] = &[
    AqfModule {
        name: "dns_event",
        artifact: "*.txt",
        read: AqfRead::Files(|q| run(q, "", Kind::Dns)),
    },
    AqfModule {
        name: "connect_event",
        artifact: "*.txt",
        read: AqfRead::Files(|q| run(q, "", Kind::Connect)),
    },
    AqfModule {
        name: "security_event",
        artifact: "*.txt",
        read: AqfRead::Files(|q| run(q, "", Kind::Security)),
    },
];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Dns,
    Connect,
    Security,
}

impl Kind {
    fn key(self) -> &'static str {
        match self {
            Kind::Dns => "dns_event",
            Kind::Connect => "connect_event",
            Kind::Security => "security_event",
        }
    }
}

pub use crate::evidence::detect::is_intrusion_log;

/// The `.txt` files under `prefix` (and inside nested zips), as
/// `(name, text)`.
fn texts(
    src: &Source,
    prefix: &str,
    depth: u8,
) -> std::result::Result<Vec<(String, String)>, ModuleError> {
    let mut out = Vec::new();
    for m in &src.members {
        let Some(rel) = m.name.strip_prefix(prefix) else {
            continue;
        };
        let lower = rel.to_ascii_lowercase();
        if lower.ends_with(".txt") {
            out.push((m.name.clone(), src.read_text(m)?));
        } else if lower.ends_with(".zip") && depth < 3 {
            let label = format!("{}:{}", src.label, m.name);
            match Source::open_zip_bytes(label.clone(), src.read(m)?) {
                Ok(inner) => out.extend(
                    texts(&inner, "", depth + 1)?
                        .into_iter()
                        .map(|(n, t)| (format!("{}::{n}", m.name), t)),
                ),
                Err(e) => return Err(ModuleError::Failed(format!("{label}: {e}"))),
            }
        }
    }
    Ok(out)
}

/// The events of one type, each once (MVT drops events repeated verbatim
/// across overlapping files), with the file each came from.
fn events(files: &[(String, String)], kind: Kind) -> Vec<(String, Map<String, Value>)> {
    let key = kind.key();
    let quoted = format!("\"{key}\"");
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (name, text) in files {
        for line in text.lines().map(str::trim) {
            if line.is_empty() || !line.contains(&quoted) {
                continue;
            }
            let Ok(Value::Object(entry)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let Some(Value::Object(event)) = entry.get(key) else {
                continue;
            };
            // serde_json's map is sorted: its text is the event's fingerprint.
            if seen.insert(Value::Object(event.clone()).to_string()) {
                out.push((name.clone(), event.clone()));
            }
        }
    }
    out
}

fn run(
    q: &Acquired<'_>,
    prefix: &str,
    kind: Kind,
) -> std::result::Result<Vec<Record>, ModuleError> {
    let files = texts(q.src, prefix, 0)?;
    if files.is_empty() {
        return Err(ModuleError::Missing);
    }
    Ok(events(&files, kind)
        .into_iter()
        .map(|(name, e)| match kind {
            Kind::Dns => dns_record(&name, &e),
            Kind::Connect => connect_record(&name, &e),
            Kind::Security => security_record(&name, &e),
        })
        .collect())
}

fn text<'a>(v: &'a Map<String, Value>, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// An IP literal as its observable kind (`/192.0.2.1` and
/// `ip6-localhost/::1` as Android prints them); loopback and unspecified
/// addresses are none.
fn ip(value: &str) -> Option<(ObservableType, String)> {
    let v = value.rsplit('/').next().unwrap_or(value).trim();
    let ip: std::net::IpAddr = v.parse().ok()?;
    if ip.is_loopback() || ip.is_unspecified() {
        return None;
    }
    let kind = if ip.is_ipv4() {
        ObservableType::Ipv4
    } else {
        ObservableType::Ipv6
    };
    Some((kind, ip.to_string()))
}

fn base(module: &str, artifact: &str, e: &Map<String, Value>, ms: bool) -> Record {
    let at = e.get("event_time").and_then(Value::as_i64).and_then(|t| {
        if ms {
            crate::time::from_unix_ms(t)
        } else {
            Timestamp::from_nanosecond(i128::from(t)).ok()
        }
    });
    let mut r = Record::new(module, artifact).at(at);
    if let Some(id) = e.get("event_id") {
        r = r.field("event_id", id.clone());
    }
    r
}

fn dns_record(artifact: &str, e: &Map<String, Value>) -> Record {
    let host = text(e, "hostname");
    let pkg = text(e, "package_name");
    let ips: Vec<(ObservableType, String)> = e
        .get("ip_addresses")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| ip(v.as_str()?)).collect())
        .unwrap_or_default();
    let shown: Vec<&str> = ips.iter().map(|(_, v)| v.as_str()).collect();
    let mut r = base("dns_event", artifact, e, true)
        .event(
            "dns_query",
            format!("DNS query for {host} by {pkg} [IPs: {}]", shown.join(", ")),
        )
        .field("hostname", host)
        .field("package_name", pkg)
        .field("ip_addresses", shown.clone())
        .observe(ObservableType::AppId, pkg);
    match ip(host) {
        Some((kind, v)) => r.push_observable(kind, v),
        None if !host.is_empty() && !host.contains(char::is_whitespace) => {
            r.push_observable(ObservableType::Domain, host)
        }
        None => {}
    }
    for (kind, v) in ips {
        r.push_observable(kind, v);
    }
    r
}

fn connect_record(artifact: &str, e: &Map<String, Value>) -> Record {
    let pkg = text(e, "package_name");
    let raw = text(e, "ip_address");
    let port = e.get("port").cloned().unwrap_or(Value::Null);
    let addr = ip(raw);
    let shown = addr
        .as_ref()
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| raw.rsplit('/').next().unwrap_or(raw).to_string());
    let mut r = base("connect_event", artifact, e, true)
        .event(
            "network_connection",
            format!("Connection to {shown}:{port} by {pkg}"),
        )
        .field("ip_address", shown.as_str())
        .field("port", port)
        .field("package_name", pkg)
        .observe(ObservableType::AppId, pkg);
    if let Some((kind, v)) = addr {
        r.push_observable(kind, v);
    }
    r
}

/// The event's tag: its first key that is not metadata (MVT's
/// `_get_event_tag`).
fn tag(e: &Map<String, Value>) -> Option<&str> {
    e.keys()
        .map(String::as_str)
        .find(|k| !["event_id", "event_time", "event_type", "timestamp"].contains(k))
}

fn flag(info: &Value, key: &str, default: bool) -> bool {
    info.get(key).and_then(Value::as_bool).unwrap_or(default)
}

/// One line for the timeline, for the events a person reads most.
fn describe(tag: &str, info: &Value) -> String {
    let s = |k: &str| info.get(k).map(value_text).unwrap_or_default();
    match tag {
        "adb_shell_interactive" => "ADB interactive shell opened".into(),
        "adb_shell_cmd" => format!("ADB shell command: {}", s("command")),
        "adb_sync_recv_file" => format!("File pulled via ADB: {}", s("path")),
        "adb_sync_send_file" => format!("File pushed via ADB: {}", s("path")),
        "app_process_start" => format!(
            "Process started: {} (UID: {}, PID: {})",
            s("process"),
            s("uid"),
            s("pid")
        ),
        "package_installed" | "package_updated" | "package_uninstalled" => format!(
            "Package {}: {} (v{}, user: {})",
            &tag[8..],
            s("package_name"),
            s("version_code"),
            s("user_id")
        ),
        "cert_authority_installed" | "cert_authority_removed" => format!(
            "Certificate authority {}{}: {}",
            &tag[15..],
            if flag(info, "success", true) {
                ""
            } else {
                " (failed)"
            },
            s("subject")
        ),
        "wipe_failure" => "Device wipe failed".into(),
        _ => format!("{tag}: {}", value_text(info)),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// MVT's heuristics on one security event (`_check_security_heuristics`).
fn heuristics(mut r: Record, tag: &str, info: &Value) -> Record {
    match tag {
        "cert_validation_failure" => r.alert(
            &rules::ANDROID_INTRUSION_CERT_VALIDATION_FAILURE,
            format!("Certificate validation failure: {}", value_text(info)),
        ),
        "key_integrity_violation" => r.alert(
            &rules::ANDROID_INTRUSION_KEY_INTEGRITY_VIOLATION,
            format!("Key integrity violation: {}", value_text(info)),
        ),
        // A missing success field counts as installed, as in MVT.
        "cert_authority_installed" if flag(info, "success", true) => r.alert(
            &rules::ANDROID_INTRUSION_CA_INSTALLED,
            format!(
                "Certificate authority installed: {}",
                info.get("subject")
                    .map(value_text)
                    .unwrap_or("unknown".into())
            ),
        ),
        "wipe_failure" => r.alert(
            &rules::ANDROID_INTRUSION_WIPE_FAILURE,
            "Device wipe failure",
        ),
        "crypto_self_test_completed" => {
            let ok = match info {
                Value::Object(_) => flag(info, "success", true),
                other => other.as_i64() == Some(1),
            };
            if !ok {
                r.push_alert(
                    &rules::ANDROID_INTRUSION_CRYPTO_SELF_TEST_FAILED,
                    "Cryptographic self test failed",
                );
            }
            r
        }
        _ => r,
    }
}

fn security_record(artifact: &str, e: &Map<String, Value>) -> Record {
    let Some(tag) = tag(e) else {
        return base("security_event", artifact, e, false)
            .event("unknown", Value::Object(e.clone()).to_string());
    };
    let info = &e[tag];
    let mut r = base("security_event", artifact, e, false)
        .event(tag, describe(tag, info))
        .field("tag", tag)
        .field("details", info.clone());
    let s = |k: &str| info.get(k).and_then(Value::as_str).unwrap_or("");
    for k in ["package_name", "package", "admin_package"] {
        r.push_observable(ObservableType::AppId, s(k));
    }
    match tag {
        "app_process_start" => {
            let process = s("process");
            // `pkg:sandboxed_process0:...`: the package is the first part.
            r.push_observable(
                ObservableType::AppId,
                process.split(':').next().unwrap_or(""),
            );
            r.push_observable(ObservableType::Process, process);
            let sha = s("sha256");
            if sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                r.push_observable(ObservableType::Sha256, sha.to_ascii_lowercase());
            }
        }
        "adb_sync_recv_file" | "adb_sync_send_file" => {
            r.push_observable(ObservableType::FilePath, s("path"));
        }
        // A shell command is free text: any indicator inside it is found.
        "adb_shell_cmd" => r.push_observable(ObservableType::Text, s("command")),
        _ => {}
    }
    heuristics(r, tag, info)
}

/// Scans an intrusion-log export: a folder or a zip (MVT's
/// `check-intrusion-logs` takes the same two).
pub fn scan(path: &Path, opts: &ScanOptions) -> Result<DeviceScan> {
    let src = if path.is_dir() {
        Source::open_dir(path)
    } else {
        Source::open_zip(path)
    }
    .map_err(|e| Error::input(path, format!("cannot open intrusion logs: {e}")))?;
    let mut scan = DeviceScan {
        device: android_device(),
        notes: src.notes.clone(),
        ..DeviceScan::default()
    };
    let q = Acquired {
        src: &src,
        now: Timestamp::now(),
    };
    let q = &q;
    let jobs = MODULES
        .iter()
        .filter_map(|m| match m.read {
            AqfRead::Files(f) => Some(job(m.name, m.artifact.to_string(), move || f(q))),
            _ => None,
        })
        .collect();
    scan.modules = run_jobs(jobs, opts);
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(line: &str) -> Map<String, Value> {
        match serde_json::from_str(line).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn detects_and_dedups() {
        assert!(is_intrusion_log(b"\n{\"dns_event\":{\"event_id\":0}}\n"));
        assert!(is_intrusion_log(b"{ \"security_event\":{}}"));
        assert!(!is_intrusion_log(b"{\"other_event\":{}}"));
        assert!(!is_intrusion_log(b"hello"));
        let a = "{\"dns_event\":{\"event_id\":0,\"hostname\":\"a.com\"}}\n{\"connect_event\":{\"event_id\":1}}\nnot json\n";
        let b = "{\"dns_event\":{\"hostname\":\"a.com\",\"event_id\":0}}\n{\"dns_event\":{\"event_id\":2,\"hostname\":\"b.com\"}}\n";
        let files = vec![("a.txt".into(), a.into()), ("b.txt".into(), b.into())];
        assert_eq!(
            events(&files, Kind::Dns).len(),
            2,
            "key order does not matter"
        );
        assert_eq!(events(&files, Kind::Connect).len(), 1);
        assert_eq!(events(&files, Kind::Security).len(), 0);
    }

    #[test]
    fn observables_and_heuristics() {
        let dns = dns_record(
            "x",
            &map(
                r#"{"event_id":0,"event_time":1700000000000,"package_name":"com.a","hostname":"evil.example","ip_addresses":["/192.0.2.1","/0.0.0.0","/::1"]}"#,
            ),
        );
        assert_eq!(dns.timestamp.unwrap().to_string(), "2023-11-14T22:13:20Z");
        let kinds: Vec<_> = dns
            .observables
            .iter()
            .map(|o| (o.kind, o.value.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                (ObservableType::AppId, "com.a"),
                (ObservableType::Domain, "evil.example"),
                (ObservableType::Ipv4, "192.0.2.1"),
            ]
        );
        let c = connect_record(
            "x",
            &map(r#"{"ip_address":"ip6-localhost/::1","port":5,"package_name":""}"#),
        );
        assert!(c.observables.is_empty());
        let s = security_record(
            "x",
            &map(
                r#"{"event_id":3,"event_time":1700000000000000000,"cert_authority_installed":{"subject":"CN=Evil"}}"#,
            ),
        );
        assert_eq!(s.alerts[0].rule, rules::ANDROID_INTRUSION_CA_INSTALLED.id);
        assert_eq!(s.timestamp.unwrap().to_string(), "2023-11-14T22:13:20Z");
        let failed = security_record(
            "x",
            &map(r#"{"cert_authority_installed":{"success":false}}"#),
        );
        assert!(failed.alerts.is_empty());
        let p = security_record(
            "x",
            &map(r#"{"app_process_start":{"process":"com.b:remote","sha256":"example_hash"}}"#),
        );
        assert!(
            p.observables
                .iter()
                .any(|o| o.kind == ObservableType::AppId && o.value == "com.b")
        );
        assert!(
            !p.observables
                .iter()
                .any(|o| o.kind == ObservableType::Sha256)
        );
        for (line, n) in [
            (r#"{"crypto_self_test_completed":{"success":false}}"#, 1),
            (r#"{"crypto_self_test_completed":1}"#, 0),
            (r#"{"crypto_self_test_completed":0}"#, 1),
            (r#"{"wipe_failure":{}}"#, 1),
            (r#"{"key_integrity_violation":{"key_id":"k"}}"#, 1),
            (r#"{"cert_validation_failure":"bad chain"}"#, 1),
            (r#"{"key_generated":{"success":false}}"#, 0),
        ] {
            assert_eq!(security_record("x", &map(line)).alerts.len(), n, "{line}");
        }
    }
}
