//! What current androidqf collects only with root access the phone already
//! has (it never roots it): `magisk_modules/` (`manifest.json` and each
//! module's `NNNN/module.prop`, `-magisk-modules yes`) and `init_scripts/`
//! (the files of `/system/etc/init.d`). A Magisk module changes the system
//! at every boot; stock Android runs no init.d script: each is a warning.
//! MVT reads neither.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Acquired, AqfModule, AqfRead};
use crate::artifacts::ModuleError;
use crate::evidence::zip_source::Source;
use crate::model::{ObservableType, Record};

pub const MAGISK: AqfModule = AqfModule {
    name: "aqf_magisk_modules",
    artifact: "magisk_modules/",
    read: AqfRead::Files(run_magisk),
};

pub const INIT_SCRIPTS: AqfModule = AqfModule {
    name: "aqf_init_scripts",
    artifact: "init_scripts/",
    read: AqfRead::Files(run_init_scripts),
};

/// Script text larger than this is not swept (its hash and path still are).
const MAX_SCRIPT_TEXT: usize = 256 * 1024;

/// `key=value` lines of a `module.prop`.
pub fn module_prop(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn read_text(src: &Source, name: &str) -> Option<String> {
    let m = src.members.iter().find(|m| m.name == name)?;
    src.read_text(m).ok()
}

fn run_magisk(q: &Acquired<'_>) -> Result<Vec<Record>, ModuleError> {
    let src = q.src;
    let manifest = read_text(src, "magisk_modules/manifest.json");
    let props: Vec<&str> = src
        .members
        .iter()
        .map(|m| m.name.as_str())
        .filter(|n| n.starts_with("magisk_modules/") && n.ends_with("/module.prop"))
        .collect();
    let entries: Vec<Value> = match &manifest {
        Some(t) => {
            let v: Value = serde_json::from_str(t)
                .map_err(|e| ModuleError::Failed(format!("magisk_modules/manifest.json: {e}")))?;
            v.get("modules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        }
        None if props.is_empty() => return Err(ModuleError::Missing),
        // No manifest: each module.prop on its own.
        None => props
            .iter()
            .map(|p| serde_json::json!({"module_prop_path": p}))
            .collect(),
    };
    Ok(entries.iter().map(|e| magisk_record(src, e)).collect())
}

fn magisk_record(src: &Source, e: &Value) -> Record {
    let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let prop_path = s("module_prop_path");
    let prop = read_text(src, &prop_path)
        .map(|t| module_prop(&t))
        .unwrap_or_default();
    let get = |k: &str| {
        prop.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let states = super::aqf_processes::strings(e.get("state_files"));
    let id = get("id");
    let label = [get("name"), id.clone(), s("directory_name")]
        .into_iter()
        .find(|x| !x.is_empty())
        .unwrap_or_else(|| prop_path.clone());
    let state = if states.is_empty() {
        String::new()
    } else {
        format!(" (marked: {})", states.join(", "))
    };
    let mut r = Record::new(MAGISK.name, "magisk_modules/manifest.json")
        .event("magisk_module", format!("Magisk module {label}{state}"))
        .field("id", id.as_str())
        .field("name", get("name"))
        .field("version", get("version"))
        .field("version_code", get("versionCode"))
        .field("author", get("author"))
        .field("description", get("description"))
        .field("directory_name", s("directory_name"))
        .field("device_path", s("device_path"))
        .field("module_prop_status", s("module_prop_status"))
        .field("state_files", states);
    let device_path = s("device_path");
    if !device_path.is_empty() {
        r.push_observable(ObservableType::FilePath, device_path.as_str());
    }
    let text: Vec<String> = ["name", "author", "description", "updateJson"]
        .iter()
        .map(|k| get(k))
        .filter(|v| !v.is_empty())
        .collect();
    if !text.is_empty() {
        r.push_observable(ObservableType::Text, text.join("\n"));
    }
    r.alert(
        &crate::rules::ANDROID_MAGISK_MODULE,
        format!("A Magisk module is installed: {label}{state}"),
    )
}

fn run_init_scripts(q: &Acquired<'_>) -> Result<Vec<Record>, ModuleError> {
    let src = q.src;
    let files: Vec<_> = src.under("init_scripts/").collect();
    if files.is_empty() {
        return Err(ModuleError::Missing);
    }
    let mut out = Vec::new();
    for (m, rel) in files {
        let device_path = format!("/system/etc/init.d/{rel}");
        let data = src.read(m)?;
        let sha = hex::encode(Sha256::digest(&data));
        let mut r = Record::new(INIT_SCRIPTS.name, &m.name)
            .event("init_script", format!("Boot script {device_path}"))
            .field("path", device_path.as_str())
            .field("size", data.len())
            .field("sha256", sha.as_str())
            .observe(ObservableType::FilePath, device_path.as_str())
            .observe(ObservableType::Sha256, sha);
        if data.len() <= MAX_SCRIPT_TEXT {
            r.push_observable(ObservableType::Text, String::from_utf8_lossy(&data));
        }
        out.push(r.alert(
            &crate::rules::ANDROID_INIT_SCRIPT,
            format!("A script runs at every boot from {device_path}"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_prop_lines() {
        let p = module_prop("# comment\nid=zygisk_x\nname = Zygisk X\n\nbad line\n=v\n");
        assert_eq!(
            p,
            [
                ("id".to_string(), "zygisk_x".to_string()),
                ("name".to_string(), "Zygisk X".to_string())
            ]
        );
    }
}
