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
    read: DumpRead::Parse(|section, d| {
        parse_at(section, d.artifact, d.host_key, d.host_key.map(|_| d.now))
    }),
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
    parse_at(section, artifact, acquisition_key, None)
}

/// One trusted key: `key [user]`, and when the keystore says so, the last
/// connection (epoch milliseconds).
struct Trusted {
    entry: String,
    last_connection: Option<i64>,
}

/// The keys of a binary (ABX) keystore that dumpstate printed as text:
/// base64 runs of 300+ characters, each with the user after one space
/// (MVT's `parse_binary_xml`).
fn abx_keys(blob: &str) -> Vec<String> {
    let is_b64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=';
    let mut out = Vec::new();
    let mut rest = blob;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/') {
        let run = &rest[start..];
        let len = run.find(|c: char| !is_b64(c)).unwrap_or(run.len());
        let key = &run[..len];
        let after = &run[len..];
        if key.len() >= 300 && b64decode(key).is_some() {
            let user: String = after
                .strip_prefix(' ')
                .map(|u| {
                    u.chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || "_.@-".contains(*c))
                        .collect()
                })
                .unwrap_or_default();
            out.push(if user.is_empty() {
                key.to_string()
            } else {
                format!("{key} {user}")
            });
        }
        let mut next = after.chars();
        if next.next().is_none() {
            break;
        }
        rest = next.as_str();
    }
    out
}

/// The `attr="value"` of an XML element's text.
fn attr<'a>(element: &'a str, name: &str) -> Option<&'a str> {
    let at = element.find(&format!("{name}=\""))? + name.len() + 2;
    let rest = element.get(at..)?;
    rest.get(..rest.find('"')?)
}

fn trusted_keys(section: &str) -> (Option<bool>, Vec<Trusted>) {
    let mut connected = None;
    let mut keys: Vec<Trusted> = Vec::new();
    let push = |keys: &mut Vec<Trusted>, entry: String, last: Option<i64>| {
        let key = entry.split(' ').next().unwrap_or("").to_string();
        // The keystore's entry (with its last connection) wins over the
        // user_keys line of the same key.
        match keys
            .iter_mut()
            .find(|t| t.entry.split(' ').next() == Some(key.as_str()))
        {
            Some(t) => t.last_connection = t.last_connection.or(last),
            None => keys.push(Trusted {
                entry,
                last_connection: last,
            }),
        }
    };
    let mut in_keys = false;
    for line in section.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("connected_to_adb=") {
            connected = Some(v == "true");
        }
        if let Some(v) = t.strip_prefix("user_keys=") {
            in_keys = true;
            if !v.is_empty() {
                push(&mut keys, v.to_string(), None);
            }
            continue;
        }
        if in_keys {
            if t.is_empty() || t == "}" || t.contains('=') && !t.ends_with('=') && !t.contains(' ')
            {
                in_keys = false;
                continue;
            }
            push(&mut keys, t.to_string(), None);
        }
        // XML keystore: <adbKey key="..." lastConnection="..." />
        if t.contains("<adbKey ")
            && let Some(k) = attr(t, "key")
        {
            let last = attr(t, "lastConnection").and_then(|v| v.parse().ok());
            push(&mut keys, k.to_string(), last);
        }
        if let Some(at) = t.find("keystore=ABX") {
            for k in abx_keys(&t[at + 12..]) {
                push(&mut keys, k, None);
            }
        }
    }
    (connected, keys)
}

/// [`parse`]; `acquired`: when the androidqf acquisition started (a key of
/// the acquiring host last used a day or more before it is noted).
pub fn parse_at(
    section: &str,
    artifact: &str,
    acquisition_key: Option<&str>,
    acquired: Option<jiff::Timestamp>,
) -> Vec<Record> {
    let mut out = Vec::new();
    let (connected, keys) = trusted_keys(section);
    if let Some(c) = connected {
        out.push(
            Record::new(MODULE.name, artifact)
                .event("adb_state", format!("connected_to_adb={c}"))
                .field("connected_to_adb", c),
        );
    }
    for t in keys {
        let (key, user) = t.entry.split_once(' ').unwrap_or((t.entry.as_str(), ""));
        let decoded = b64decode(key);
        let last = t.last_connection.and_then(crate::time::from_unix_ms);
        let compared = match acquisition_key {
            None => " (a bugreport does not record the acquiring computer's key: not compared)",
            Some(_) => "",
        };
        let mut r = Record::new(MODULE.name, artifact)
            .at(last)
            .event(
                "adb_trusted_key",
                format!("Trusted ADB host key {user}{compared}"),
            )
            .field("user", user)
            .field("key", key);
        if let Some(l) = last {
            r = r.field("last_connected", l.to_string());
        }
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
                    format!("The phone trusts the ADB host key of \"{user}\", but the AndroidQF acquisition does not include its host key (acquisition.json adb_host_public_key, adb_host_key.pub), so it cannot be compared"),
                )
            }
            Some(acq) if decoded.is_some() && acq.split_whitespace().next() != Some(key) => {
                r = r.alert(
                    &crate::rules::ANDROID_ADB_OTHER_HOST,
                    format!("Found a trusted ADB host key different from the AndroidQF acquisition host (\"{user}\")"),
                )
            }
            Some(_)
                if decoded.is_some()
                    && let (Some(l), Some(a)) = (last, acquired)
                    && a.duration_since(l) >= jiff::SignedDuration::from_hours(24) =>
            {
                r = r.alert(
                    &crate::rules::ANDROID_ADB_HOST_KEY_EARLIER,
                    format!("The acquiring computer's ADB key (\"{user}\") was last connected on {l}, a day or more before the acquisition"),
                )
            }
            _ => {}
        }
        out.push(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> String {
        format!("QAAAA{}", "b".repeat(n))
    }

    #[test]
    fn keystore_forms_and_host_comparison() {
        let k1 = key(400);
        let k2 = key(401);
        let section = format!(
            "{{\n  debugging_manager={{\n    connected_to_adb=true\n    user_keys={k1} me@laptop\n\n    keystore=<?xml version='1.0'?>\n    <keyStore version=\"1\">\n    <adbKey key=\"{k1} me@laptop\" lastConnection=\"1700000000000\" />\n    </keyStore>\n    keystore=ABX\0\u{fffd}\u{fffd}adbKey\u{fffd}{k2} other@pc\u{fffd}\u{fffd}\n  }}\n}}\n"
        );
        let r = parse(&section, "a", None);
        let keys: Vec<_> = r.iter().filter(|r| r.event == "adb_trusted_key").collect();
        assert_eq!(keys.len(), 2, "{keys:#?}");
        assert_eq!(keys[0].fields["user"], "me@laptop");
        assert_eq!(
            keys[0].timestamp.unwrap().to_string(),
            "2023-11-14T22:13:20Z"
        );
        assert!(keys[0].description.contains("not compared"));
        assert_eq!(keys[1].fields["user"], "other@pc");
        assert!(keys.iter().all(|k| k.alerts.is_empty()));
        // Inside androidqf, the acquiring host is k1 (acquisition two days
        // after its last connection): an info on k1, a warning on k2.
        let at = jiff::Timestamp::from_second(1_700_200_000).unwrap();
        let host = format!("{k1} me@laptop");
        let r = parse_at(&section, "a", Some(&host), Some(at));
        let rules: Vec<Vec<&str>> = r
            .iter()
            .filter(|r| r.event == "adb_trusted_key")
            .map(|r| r.alerts.iter().map(|a| a.rule.as_str()).collect())
            .collect();
        assert_eq!(
            rules,
            [
                vec!["android.adb_host_key_earlier"],
                vec!["android.adb_other_host"]
            ]
        );
        assert!(abx_keys("short AAAA").is_empty());
    }
}
