//! `dumpsys adb`: the ADB debugging state and the host keys the phone
//! trusts. A phone that trusts computers is worth knowing about; inside an
//! androidqf acquisition a key other than the acquiring host's is a warning.

use md5::{Digest, Md5};

use super::{DumpRead, DumpstateModule, Part};
use crate::model::Record;

pub const MODULE: DumpstateModule = DumpstateModule {
    name: "dumpsys_adb_state",
    in_androidqf: Some("aqf_dumpsys_adb_state"),
    part: Part::Service("adb"),
    read: DumpRead::Parse(|section, d| parse(section, d.artifact, d.host_key)),
};

/// Minimal standard base64 decoder (keys are plain RFC 4648 base64).
pub fn b64decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if out.is_empty() { None } else { Some(out) }
}

pub fn fingerprint(key: &[u8]) -> String {
    Md5::digest(key)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `acquisition_key`: inside androidqf, the acquiring host's public key
/// (`Some("")` when the acquisition does not record it); `None` outside.
pub fn parse(section: &str, artifact: &str, acquisition_key: Option<&str>) -> Vec<Record> {
    let mut out = Vec::new();
    let mut connected = None;
    let mut keys: Vec<String> = Vec::new();
    let mut in_keys = false;
    for line in section.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("connected_to_adb=") {
            connected = Some(v == "true");
        }
        if let Some(v) = t.strip_prefix("user_keys=") {
            in_keys = true;
            if !v.is_empty() {
                keys.push(v.to_string());
            }
            continue;
        }
        if in_keys {
            if t.is_empty() || t == "}" || t.contains('=') && !t.ends_with('=') && !t.contains(' ')
            {
                in_keys = false;
                continue;
            }
            keys.push(t.to_string());
        }
        // XML keystore: <adbKey key="..." lastConnection="..." />
        if let Some(at) = t.find("<adbKey key=\"") {
            let rest = &t[at + 13..];
            if let Some(end) = rest.find('"') {
                keys.push(rest[..end].to_string());
            }
        }
    }
    if let Some(c) = connected {
        out.push(
            Record::new(MODULE.name, artifact)
                .event("adb_state", format!("connected_to_adb={c}"))
                .field("connected_to_adb", c),
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for entry in keys {
        let (key, user) = entry.split_once(' ').unwrap_or((entry.as_str(), ""));
        if !seen.insert(key.to_string()) {
            continue;
        }
        let decoded = b64decode(key);
        let mut r = Record::new(MODULE.name, artifact)
            .event("adb_trusted_key", format!("Trusted ADB host key {user}"))
            .field("user", user)
            .field("key", key);
        match &decoded {
            Some(d) => r = r.field("fingerprint", fingerprint(d)),
            None => {
                r = r.alert(
                    &crate::rules::ANDROID_ADB_INVALID_KEY,
                    "Found an invalid trusted ADB host key",
                )
            }
        }
        match acquisition_key {
            Some("") if decoded.is_some() => {
                r = r.alert(
                    &crate::rules::ANDROID_ADB_UNKNOWN_HOST,
                    format!("The phone trusts the ADB host key of \"{user}\", but the AndroidQF acquisition does not include its host key"),
                )
            }
            Some(acq) if decoded.is_some() && acq.split_whitespace().next() != Some(key) => {
                r = r.alert(
                    &crate::rules::ANDROID_ADB_OTHER_HOST,
                    format!("Found a trusted ADB host key different from the AndroidQF acquisition host (\"{user}\")"),
                )
            }
            _ => {}
        }
        out.push(r);
    }
    out
}
