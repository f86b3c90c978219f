//! androidqf's hash manifest, `hashes.csv`: one `name,sha256` row per file
//! of the acquisition. Current androidqf (streaming zip) writes the zip
//! entry name and the SHA-256 of its plain content, for every entry before
//! the manifest; older folder acquisitions wrote the host's absolute path
//! of each file. Each row's hash is an observable (an APK or a pulled file
//! whose hash is an indicator is found even when the file was left out of
//! the copy), and each row is checked against the file the acquisition
//! holds now: a file whose content no longer matches is a warning (changed
//! after the acquisition, or damaged). MVT does not read this file.

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::{Acquired, AqfModule, AqfRead};
use crate::artifacts::ModuleError;
use crate::evidence::zip_source::{Member, Source};
use crate::model::{ObservableType, Record};

pub const MODULE: AqfModule = AqfModule {
    name: "aqf_hashes",
    artifact: "hashes.csv",
    read: AqfRead::Files(run),
};

/// Files larger than this are listed but not hashed again.
const VERIFY_LIMIT: u64 = 512 * 1024 * 1024;

/// `name,sha256` rows (CSV; a quoted name may hold commas and quotes).
pub fn rows(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some((name, hash)) = line.rsplit_once(',') else {
            continue;
        };
        let hash = hash.trim().to_ascii_lowercase();
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let name = name.trim();
        let name = match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
            Some(q) => q.replace("\"\"", "\""),
            None => name.to_string(),
        };
        out.push((name, hash));
    }
    out
}

/// The member a row names: the entry itself, or (an old folder
/// acquisition's absolute host path) the member whose name ends it.
fn member<'a>(src: &'a Source, name: &str) -> Option<&'a Member> {
    let name = name.replace('\\', "/");
    src.members.iter().find(|m| m.name == name).or_else(|| {
        src.members
            .iter()
            .filter(|m| name.ends_with(&format!("/{}", m.name)))
            .max_by_key(|m| m.name.len())
    })
}

fn run(q: &Acquired<'_>) -> Result<Vec<Record>, ModuleError> {
    let src = q.src;
    let manifest = src.find("hashes.csv").ok_or(ModuleError::Missing)?;
    let text = src.read_text(manifest)?;
    let artifact = manifest.name.as_str();
    Ok(rows(&text)
        .into_par_iter()
        .filter(|(name, _)| !name.ends_with("hashes.csv"))
        .map(|(name, hash)| {
            let m = member(src, &name);
            // Old folder acquisitions kept writing these after hashing them.
            let late = name.starts_with('/')
                && (name.ends_with("/command.log") || name.ends_with("/acquisition.json"));
            let (status, actual) = match m {
                None => ("absent", None),
                Some(_) if late => ("not verified (written after the manifest)", None),
                Some(m) if m.size > VERIFY_LIMIT => ("not verified (too large)", None),
                Some(m) => match src.read(m) {
                    Ok(data) => {
                        let actual = hex::encode(Sha256::digest(&data));
                        let status = if actual == hash { "match" } else { "mismatch" };
                        (status, Some(actual))
                    }
                    Err(_) => ("unreadable", None),
                },
            };
            let shown = m.map_or(name.as_str(), |m| m.name.as_str());
            let mut r = Record::new(MODULE.name, artifact)
                .event("file_hash", format!("{shown} sha256 {hash} ({status})"))
                .field("path", name.as_str())
                .field("sha256", hash.as_str())
                .field("verified", status)
                .observe(ObservableType::Sha256, hash.as_str());
            if status == "mismatch" {
                r = r.field("sha256_now", actual.unwrap_or_default()).alert(
                    &crate::rules::ANDROID_AQF_HASH_MISMATCH,
                    format!("\"{shown}\" no longer matches the SHA-256 androidqf recorded for it"),
                );
            }
            r
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_both_forms() {
        let h = "ab".repeat(32);
        let text = format!(
            "packages.json,{h}\n\"/home/a/androidqf/5a1f/logs/x,y.txt\",{}\nbad,row\n\r\n",
            h.to_uppercase()
        );
        let r = rows(&text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], ("packages.json".to_string(), h.clone()));
        assert_eq!(r[1].0, "/home/a/androidqf/5a1f/logs/x,y.txt");
        assert_eq!(r[1].1, h);
    }
}
