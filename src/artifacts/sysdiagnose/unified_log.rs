//! The unified log's `uuidtext` files (`system_logs.logarchive/XX/<30 hex>`):
//! one per executable or library that logged, named by its image UUID. Each
//! ends with the image's path, so every binary that wrote to the unified log
//! is known without decoding the tracev3 messages (see the README for why
//! the messages themselves are not decoded).
//!
//! Layout (libyal dtformats, "Apple Unified Logging and Activity Tracing
//! formats"): u32 signature 0x66778899, u32 major, u32 minor, u32 entry count,
//! count × (u32 range offset, u32 size), the format strings (sum of the
//! sizes), then the NUL-terminated image path. All little-endian.

use super::Module;
use crate::artifacts::ModuleError;
use crate::model::{ObservableType, Record};

pub const MODULE: Module = Module {
    name: "unified_log_images",
    artifact: "system_logs.logarchive/XX/<uuidtext>",
    claims: is_uuidtext,
    parse: |_, member, data| records(member, data),
    sweep_too: false,
};

const SIGNATURE: u32 = 0x6677_8899;

/// Whether `name` is a uuidtext member: `system_logs.logarchive/XX/<30 hex>`.
pub fn is_uuidtext(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("system_logs.logarchive/") else {
        return false;
    };
    let Some((dir, file)) = rest.split_once('/') else {
        return false;
    };
    dir.len() == 2
        && file.len() == 30
        && dir
            .bytes()
            .chain(file.bytes())
            .all(|b| b.is_ascii_hexdigit())
}

fn u32_at(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

/// The image path at the end of a uuidtext file.
pub fn image_path(data: &[u8]) -> Result<String, String> {
    if u32_at(data, 0) != Some(SIGNATURE) {
        return Err("not a uuidtext file (bad signature)".into());
    }
    let count = u32_at(data, 12).ok_or("header cut short")? as usize;
    let descriptors_end = 16usize
        .checked_add(count.checked_mul(8).ok_or("entry count overflows")?)
        .ok_or("entry count overflows")?;
    let mut strings: usize = 0;
    for i in 0..count {
        let size = u32_at(data, 16 + i * 8 + 4).ok_or("entry table cut short")?;
        strings = strings
            .checked_add(size as usize)
            .ok_or("entry sizes overflow")?;
    }
    let start = descriptors_end
        .checked_add(strings)
        .ok_or("entry sizes overflow")?;
    let tail = data.get(start..).ok_or("image path offset past the end")?;
    let end = memchr::memchr(0, tail).unwrap_or(tail.len());
    let path = String::from_utf8_lossy(&tail[..end]).into_owned();
    if path.is_empty() {
        return Err("no image path".into());
    }
    Ok(path)
}

pub fn records(member: &str, data: &[u8]) -> Result<Vec<Record>, ModuleError> {
    let path = image_path(data).map_err(|e| ModuleError::Failed(format!("{member}: {e}")))?;
    let uuid: String = member
        .trim_start_matches("system_logs.logarchive/")
        .chars()
        .filter(|c| *c != '/')
        .collect();
    let base = path.rsplit('/').next().unwrap_or(&path).to_string();
    let mut r = Record::new(MODULE.name, member)
        .event("log_image", format!("{path} wrote to the unified log"))
        .field("member", member)
        .field("uuid", uuid)
        .field("path", path.as_str())
        .observe(ObservableType::Process, base);
    if path.starts_with('/') {
        r.push_observable(ObservableType::FilePath, path.as_str());
    }
    Ok(vec![r])
}

/// Builds a uuidtext file (for the fixture generator and tests).
pub fn build(format_strings: &[&str], path: &str) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&SIGNATURE.to_le_bytes());
    v.extend_from_slice(&2u32.to_le_bytes());
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend_from_slice(&(format_strings.len() as u32).to_le_bytes());
    let mut offset = 0x4000u32;
    for s in format_strings {
        let size = s.len() as u32 + 1;
        v.extend_from_slice(&offset.to_le_bytes());
        v.extend_from_slice(&size.to_le_bytes());
        offset += size;
    }
    for s in format_strings {
        v.extend_from_slice(s.as_bytes());
        v.push(0);
    }
    v.extend_from_slice(path.as_bytes());
    v.push(0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_after_the_format_strings() {
        let data = build(&["connected to %s", "state %d"], "/usr/libexec/exampled");
        assert_eq!(image_path(&data).unwrap(), "/usr/libexec/exampled");
        let r = records(
            "system_logs.logarchive/3F/1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C",
            &data,
        )
        .unwrap();
        assert_eq!(r[0].fields["uuid"], "3F1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C");
        assert!(
            r[0].observables
                .iter()
                .any(|o| o.kind == ObservableType::Process && o.value == "exampled")
        );
    }

    #[test]
    fn hostile_input() {
        assert!(image_path(b"").is_err());
        assert!(image_path(b"\x99\x88\x77\x66\x02\0\0\0\x01\0\0\0\xff\xff\xff\xff").is_err());
        let mut d = build(&["x"], "/a");
        d[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(image_path(&d).is_err());
        assert!(is_uuidtext(
            "system_logs.logarchive/3F/1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C"
        ));
        assert!(!is_uuidtext(
            "system_logs.logarchive/dsc/1A2B3C4D5E6F7A8B9C0D1E2F3A4B5C"
        ));
        assert!(!is_uuidtext(
            "system_logs.logarchive/Persist/0000000000000001.tracev3"
        ));
    }
}
