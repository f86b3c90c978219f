//! `dumpsys accessibility`: installed (old syntax) and enabled (Android 14+)
//! accessibility services. Every service is a warning (they can read the
//! screen); the package is matched as an app id.

use super::{DumpRead, DumpstateModule, Part};
use crate::model::{ObservableType, Record};

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "dumpsys_accessibility",
    in_androidqf: Some("aqf_dumpsys_accessibility"),
    part: Part::Service("accessibility"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact)),
};

pub fn parse(section: &str, artifact: &str) -> Vec<Record> {
    let mut out = Vec::new();
    let mut push = |package: &str, service: &str| {
        out.push(
            Record::new(MODULE.name, artifact)
                .event(
                    "accessibility_service",
                    format!("Accessibility service {service}"),
                )
                .field("package_name", package)
                .field("service", service)
                .observe(ObservableType::AppId, package)
                .alert(
                    &crate::rules::ANDROID_ACCESSIBILITY_SERVICE,
                    format!("Found accessibility service: \"{service}\""),
                ),
        );
    };
    let mut in_services = false;
    for line in section.lines() {
        let t = line.trim();
        if t.starts_with("installed services:") {
            in_services = true;
            continue;
        }
        if in_services {
            if t == "}" {
                in_services = false;
                continue;
            }
            let Some((_, service)) = line.split_once(':') else {
                continue;
            };
            let service = service.trim();
            let package = service.split('/').next().unwrap_or(service);
            push(package, service);
        }
    }
    for line in section.lines() {
        let t = line.trim_start();
        let Some(rest) = t.strip_prefix("Enabled services:") else {
            continue;
        };
        // {{pkg/cls}, {pkg2/cls2}}: every innermost {...}
        let mut s = rest;
        while let Some(open) = s.find('{') {
            let after = &s[open + 1..];
            let Some(close) = after.find('}') else { break };
            let inner = &after[..close];
            if let Some(last_open) = inner.rfind('{') {
                s = &after[last_open..];
                continue;
            }
            if !inner.is_empty() {
                let (package, service) = inner.split_once('/').unwrap_or((inner, ""));
                push(package, service);
            }
            s = &after[close + 1..];
        }
    }
    out
}
