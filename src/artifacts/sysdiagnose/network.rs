//! Domains and URLs: `swcutil_show.txt` (associated domains),
//! `logs/Networking/*.plist` (VPN, content filter and DNS proxy settings),
//! `security-sysdiagnose.txt` (keychain item servers) and `WiFi/*.plist`.

use std::collections::BTreeSet;

use super::Module;
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};
use crate::strings::base_name;

pub const SWCUTIL: Module = Module {
    name: "swcutil",
    artifact: "swcutil_show.txt",
    claims: |n| n == SWCUTIL.artifact,
    parse: swcutil,
    sweep_too: false,
};
pub const SECURITY: Module = Module {
    name: "security_sysdiagnose",
    artifact: "security-sysdiagnose.txt",
    claims: |n| n == SECURITY.artifact,
    parse: security,
    sweep_too: true,
};
pub const NETWORK_EXTENSION: Module = Module {
    name: "network_extension",
    artifact: "logs/Networking/*.plist",
    claims: |n| n.starts_with("logs/Networking/") && base_name(n).ends_with(".plist"),
    parse: plist_hosts,
    sweep_too: false,
};
pub const WIFI: Module = Module {
    name: "wifi",
    artifact: "WiFi/*.plist",
    claims: |n| n.starts_with("WiFi/") && base_name(n).ends_with(".plist"),
    parse: plist_hosts,
    sweep_too: false,
};

/// Whether `s` has the shape of a host name with an alphabetic top label.
fn looks_like_host(s: &str) -> bool {
    let s = s.trim_end_matches('.');
    if s.len() < 4 || s.len() > 253 || !s.contains('.') {
        return false;
    }
    let labels: Vec<&str> = s.split('.').collect();
    let tld = labels.last().copied().unwrap_or("");
    labels.iter().all(|l| {
        !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    }) && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

fn is_ipv4(s: &str) -> bool {
    s.parse::<std::net::Ipv4Addr>().is_ok()
}

/// Classifies a string taken from a plist or a text field.
fn classify(s: &str) -> Option<ObservableType> {
    let s = s.trim();
    if s.starts_with("http://") || s.starts_with("https://") {
        Some(ObservableType::Url)
    } else if is_ipv4(s) {
        Some(ObservableType::Ipv4)
    } else if looks_like_host(s) {
        Some(ObservableType::Domain)
    } else {
        None
    }
}

/// `swcutil_show.txt`: `Domain:` and `App ID:` fields of the database
/// entries, and the comma-separated domain lists of `=== NETWORK ===`.
pub fn swcutil(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut section = String::new();
    let mut service: Option<String> = None;
    let mut app: Option<String> = None;
    let mut seen = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with("===") {
            section = t.trim_matches('=').trim().to_string();
            continue;
        }
        if t.starts_with("---") {
            service = None;
            app = None;
            continue;
        }
        if let Some(v) = t.strip_prefix("Service:") {
            service = Some(v.trim().to_string());
        } else if let Some(v) = t.strip_prefix("App ID:") {
            app = Some(v.trim().to_string());
        } else if let Some(v) = t.strip_prefix("Domain:") {
            // `*.example.com`, `example.com?mode=developer`
            let raw = v.trim();
            let host = raw
                .trim_start_matches("*.")
                .split(['?', ':', ' '])
                .next()
                .unwrap_or("");
            let mut r = Record::new(module, member)
                .event(
                    "associated_domain",
                    format!("{} for {}", raw, app.as_deref().unwrap_or("?")),
                )
                .field("member", member)
                .field("line", i + 1)
                .field("service", service.clone())
                .field("app_id", app.clone())
                .field("domain", raw)
                .observe(ObservableType::Domain, host);
            if let Some(a) = &app {
                // `TEAMID.com.example.app` → the bundle id.
                let bundle = a
                    .split_once('.')
                    .map(|(team, rest)| if team.len() == 10 { rest } else { a.as_str() });
                r.push_observable(ObservableType::AppId, bundle.unwrap_or(a));
            }
            out.push(r);
        } else if section.eq_ignore_ascii_case("NETWORK") {
            for d in t
                .split([',', ' '])
                .map(|d| d.trim())
                .filter(|d| looks_like_host(d))
            {
                if seen.insert(d.to_string()) {
                    out.push(
                        Record::new(module, member)
                            .event("network_domain", d.to_string())
                            .field("member", member)
                            .field("line", i + 1)
                            .field("domain", d)
                            .observe(ObservableType::Domain, d),
                    );
                }
            }
        }
    }
    Ok(out)
}

fn strings(v: &plist::Value, path: &str, out: &mut Vec<(String, String)>) {
    match v {
        plist::Value::Dictionary(d) => {
            for (k, x) in d {
                strings(x, &format!("{path}/{k}"), out);
            }
        }
        plist::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                strings(x, &format!("{path}/{i}"), out);
            }
        }
        plist::Value::String(s) => out.push((path.to_string(), s.clone())),
        _ => {}
    }
}

/// Any plist (network extension settings, Wi-Fi): every string value that
/// is a URL, an IPv4 address or a host name, once per plist.
pub fn plist_hosts(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let v: plist::Value = crate::evidence::plist_safe::from_bytes(data)
        .map_err(|e| ModuleError::Failed(format!("{member}: {e}")))?;
    let mut all = Vec::new();
    strings(&v, "", &mut all);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (key, s) in all {
        let Some(kind) = classify(&s) else { continue };
        if !seen.insert(s.clone()) {
            continue;
        }
        out.push(
            Record::new(module, member)
                .event("network_setting", format!("{key} = {s}"))
                .field("member", member)
                .field("key", key)
                .field("value", s.as_str())
                .observe(kind, s.trim()),
        );
    }
    Ok(out)
}

/// `security-sysdiagnose.txt`: the `srvr` (server) and `sdmn` (security
/// domain) attributes of keychain items.
pub fn security(module: &str, member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        for key in ["srvr", "sdmn"] {
            let mut rest = line;
            while let Some(pos) = rest.find(key) {
                let after = &rest[pos + key.len()..];
                rest = after;
                let Some(v) = after
                    .trim_start()
                    .strip_prefix(':')
                    .or_else(|| after.trim_start().strip_prefix('='))
                else {
                    continue;
                };
                let value = v
                    .trim_start()
                    .split([',', '}', ' ', '"'])
                    .find(|s| !s.is_empty())
                    .unwrap_or("");
                if let Some(kind) = classify(value)
                    && seen.insert(value.to_string())
                {
                    out.push(
                        Record::new(module, member)
                            .event("keychain_server", format!("keychain item for {value}"))
                            .field("member", member)
                            .field("line", i + 1)
                            .field("attribute", key)
                            .field("value", value)
                            .observe(kind, value),
                    );
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        assert!(looks_like_host("backuprabbit.com"));
        assert!(!looks_like_host("1.2.3.4"));
        assert!(!looks_like_host("README"));
        assert_eq!(classify("https://x.com/a"), Some(ObservableType::Url));
        assert_eq!(classify("10.0.0.1"), Some(ObservableType::Ipv4));
    }

    #[test]
    fn swcutil_entries() {
        let t = "Version: 1\n=== DATABASE ===\n--------------------\nService: applinks\nApp ID: ABCDE12345.com.example.app\nDomain: *.example.com?mode=developer\nLast Checked: x\n--------------------\n=== NETWORK ===\nbackuprabbit.com, apple.com\n";
        let r = swcutil("swcutil", "swcutil_show.txt", t.as_bytes()).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].observables[0].value, "example.com");
        assert_eq!(r[0].observables[1].value, "com.example.app");
        assert_eq!(r[1].observables[0].value, "backuprabbit.com");
    }

    #[test]
    fn security_attributes() {
        let t = "2024-01-01 10:00:00 +0000 inet: x - Attributes: {acct : me, srvr : mail.example.org, ptcl : htps}\n";
        let r = security(
            "security_sysdiagnose",
            "security-sysdiagnose.txt",
            t.as_bytes(),
        )
        .unwrap();
        assert_eq!(r[0].observables[0].value, "mail.example.org");
    }

    #[test]
    fn plist_strings() {
        let xml = r#"<?xml version="1.0"?><plist version="1.0"><dict><key>Server</key><string>vpn.example.net</string><key>Name</key><string>My VPN</string><key>U</key><array><string>https://a.example/x</string></array></dict></plist>"#;
        let r = plist_hosts(
            "network_extension",
            "logs/Networking/com.apple.networkextension.plist",
            xml.as_bytes(),
        )
        .unwrap();
        assert_eq!(r.len(), 2);
    }
}
