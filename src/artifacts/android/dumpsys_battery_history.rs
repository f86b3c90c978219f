//! `dumpsys batterystats`, battery history: jobs, wake alarms and foreground
//! ("top") apps with their uid.

use crate::model::{ObservableType, Record};

pub const MODULE: &str = "dumpsys_battery_history";

fn is_abs_time(a: &str, b: &str) -> bool {
    a.len() == 5 && a.as_bytes().get(2) == Some(&b'-') && b.contains(':')
}

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut started = false;
    for line in section.lines() {
        if line.starts_with("Battery History ") {
            started = true;
            continue;
        }
        if !started {
            continue;
        }
        if line.trim().is_empty() {
            break;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let time_elapsed = match tokens.as_slice() {
            [a, b, ..] if is_abs_time(a, b) => format!("{a} {b}"),
            [a, ..] => a.to_string(),
            [] => continue,
        };
        let (event, marker) = if line.contains("+job=") {
            ("start_job", "+job=")
        } else if line.contains("-job=") {
            ("end_job", "-job=")
        } else if line.contains("+top=") {
            ("start_top", "+top=")
        } else if line.contains("-top=") {
            ("end_top", "-top=")
        } else if line.contains("+running +wake_lock=") && line.contains("*walarm*:") {
            ("wake", "+wake_lock=")
        } else {
            continue;
        };
        let Some(at) = line.find(marker) else {
            continue;
        };
        let rest = &line[at + marker.len()..];
        let uid = rest.split(':').next().unwrap_or("").to_string();
        let (package, service) = if event == "wake" {
            let Some(w) = line.find("*walarm*:") else {
                continue;
            };
            let target = line[w + "*walarm*:".len()..]
                .split_whitespace()
                .next()
                .unwrap_or("");
            let target = target.trim_matches('"');
            if !target.contains('/') {
                continue;
            }
            let (p, s) = target.split_once('/').unwrap_or((target, ""));
            (p.to_string(), s.to_string())
        } else {
            let quoted = rest.split_once(':').map(|(_, q)| q).unwrap_or("");
            let quoted = quoted.split('"').nth(1).unwrap_or(quoted);
            let (p, s) = quoted.split_once('/').unwrap_or((quoted, ""));
            (p.to_string(), s.to_string())
        };
        out.push(
            Record::new(MODULE, artifact)
                .event(
                    event,
                    format!("{event} {package} (uid {uid}) at {time_elapsed}"),
                )
                .field("time_elapsed", time_elapsed.as_str())
                .field("uid", uid.as_str())
                .field("package_name", package.as_str())
                .field("service", service.as_str())
                .observe(ObservableType::AppId, package.as_str()),
        );
    }
    out
}
