//! androidqf `files.json`: every file the collector listed, with times,
//! mode and (with `-H`) hashes. Paths are matched; files under
//! `/data/local/tmp/` are warnings (spyware stages there), always, unlike
//! MVT, which skips the check when no indicator is loaded.

use serde_json::Value;

use super::{AqfModule, AqfRead};
use crate::model::{ObservableType, Record};

pub const MODULE: AqfModule = AqfModule {
    name: "aqf_files",
    artifact: "files.json",
    read: AqfRead::Member(|data, member, _| parse(data, member)),
};

fn items(data: &[u8]) -> Result<Vec<Value>, String> {
    match serde_json::from_slice::<Vec<Value>>(data) {
        Ok(v) => Ok(v),
        Err(e) => {
            // NDJSON fallback.
            let text = String::from_utf8_lossy(data);
            let v: Vec<Value> = text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect();
            if v.is_empty() {
                Err(e.to_string())
            } else {
                Ok(v)
            }
        }
    }
}

pub fn parse(data: &[u8], artifact: &str) -> Result<Vec<Record>, String> {
    let items = items(data).map_err(|e| format!("{artifact}: not a JSON list of files: {e}"))?;
    let mut out = Vec::new();
    for f in items {
        let Some(path) = f.get("path").and_then(Value::as_str).map(str::to_string) else {
            continue;
        };
        let mode = f
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let time = |k: &str| f.get(k).and_then(Value::as_f64).filter(|t| *t > 0.0);
        let base = |event: &str, t: f64| {
            Record::new(MODULE.name, artifact)
                .at(crate::time::from_unix_f64(t))
                .event(event, path.clone())
                .field("path", path.as_str())
                .field("size", f.get("size").cloned().unwrap_or(Value::Null))
                .field("mode", mode.as_str())
                .field("context", f.get("context").cloned().unwrap_or(Value::Null))
        };
        // One timeline record per distinct time (MVT's MACB grouping).
        let mut times: Vec<(String, f64)> = Vec::new();
        for (k, letter) in [
            ("modified_time", 'M'),
            ("access_time", 'A'),
            ("changed_time", 'C'),
        ] {
            if let Some(t) = time(k) {
                if let Some(e) = times.iter_mut().find(|(_, x)| *x == t) {
                    e.0.push(letter);
                } else {
                    times.push((letter.to_string(), t));
                }
            }
        }
        let (first_event, first_t) = times.first().cloned().unwrap_or(("file".into(), 0.0));
        let mut main = base(&first_event, first_t).observe(ObservableType::FilePath, path.as_str());
        if first_t <= 0.0 {
            main.timestamp = None;
        }
        for k in ["sha256", "sha1", "md5"] {
            let v = f
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_lowercase();
            let kind = match k {
                "sha256" => ObservableType::Sha256,
                "sha1" => ObservableType::Sha1,
                _ => ObservableType::Md5,
            };
            main.push_observable(kind, v);
        }
        if let Some(rest) = path.strip_prefix("/data/local/tmp/")
            && rest != "collector"
            && !rest.is_empty()
        {
            let exec = if mode.contains('x')
                || mode
                    .parse::<u32>()
                    .map(|m| m % 2 == 1 || (m / 10) % 2 == 1 || (m / 100) % 2 == 1)
                    .unwrap_or(false)
            {
                "executable "
            } else {
                ""
            };
            main = main.alert(
                &crate::rules::ANDROID_FILE_IN_TMP,
                format!("Found {exec}file at suspicious path \"{path}\""),
            );
        }
        out.push(main);
        for (event, t) in times.into_iter().skip(1) {
            out.push(base(&event, t));
        }
    }
    Ok(out)
}
