//! System properties (`getprop` output: `[name]: [value]` lines), from the
//! bugreport SYSTEM PROPERTIES block or androidqf's `getprop.txt`. Names are
//! matched as Android properties; an old security patch is a warning.

use jiff::Timestamp;

use super::{AqfModule, AqfRead, DumpRead, DumpstateModule, Part};
use crate::model::{ObservableType, Record};

pub const BUGREPORT: DumpstateModule = DumpstateModule {
    name: "dumpsys_get_prop",
    in_androidqf: None,
    part: Part::SystemProperties,
    read: DumpRead::Parse(|block, d| parse(block, BUGREPORT.name, d.artifact, d.now)),
};
pub const ANDROIDQF: AqfModule = AqfModule {
    name: "aqf_get_prop",
    artifact: "getprop.txt",
    read: AqfRead::Member(|data, member, q| {
        let text = String::from_utf8_lossy(data);
        Ok(parse(&text, ANDROIDQF.name, member, q.now))
    }),
};

/// `[name]: [value]` pairs in order, empty values included. A value may
/// span lines (`persist.sys.boot.reason.history` prints one boot per line):
/// it runs to the first line that ends with `]`, as MVT 2026 reads it.
pub fn properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(rest) = line.trim_start_matches([' ', '\t']).strip_prefix('[') else {
            continue;
        };
        let Some((name, first)) = rest.split_once("]: [") else {
            continue;
        };
        if name.is_empty() || name.contains(']') {
            continue;
        }
        let mut value = first.trim_end_matches([' ', '\t', '\r']).to_string();
        let mut closed = value.ends_with(']');
        while !closed {
            let Some(next) = lines.next() else { break };
            value.push('\n');
            value.push_str(next.trim_end_matches([' ', '\t', '\r']));
            closed = value.ends_with(']');
        }
        if !closed {
            break;
        }
        value.pop();
        out.push((name.to_string(), value));
    }
    out
}

/// One record per property. `now` is the acquisition time (or the scan
/// time) that the security-patch age is measured against.
pub fn parse(text: &str, module: &str, artifact: &str, now: Timestamp) -> Vec<Record> {
    properties(text)
        .into_iter()
        .map(|(name, value)| {
            let mut r = Record::new(module, artifact)
                .event("property", format!("{name} = {value}"))
                .field("name", name.as_str())
                .field("value", value.as_str())
                .observe(ObservableType::AndroidProperty, name.as_str());
            if name == "ro.build.version.security_patch"
                && let Some(patch) = crate::time::parse_iso(&format!("{value} 00:00:00"))
                && now.duration_since(patch).as_secs() > 6 * 31 * 86_400
            {
                r = r.alert(
                    &crate::rules::ANDROID_OLD_SECURITY_PATCH,
                    format!("This phone has not received security updates for more than six months (last update: {value})."),
                );
            }
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_multi_line_values_are_kept() {
        let text = "[gsm.operator.alpha]: []\n[persist.sys.boot.reason.history]: [reboot,userrequested,1600000000\nshutdown,battery,1500000000]\n  [ro.product.model]: [Pixel 4]  \n[bad line\n[]: [x]\n";
        let p = properties(text);
        assert_eq!(
            p,
            [
                ("gsm.operator.alpha".to_string(), String::new()),
                (
                    "persist.sys.boot.reason.history".to_string(),
                    "reboot,userrequested,1600000000\nshutdown,battery,1500000000".to_string()
                ),
                ("ro.product.model".to_string(), "Pixel 4".to_string()),
            ]
        );
        let r = parse(text, BUGREPORT.name, "a", Timestamp::now());
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].fields["value"], "");
    }
}
