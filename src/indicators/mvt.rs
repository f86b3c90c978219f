//! MVT users' indicators, where MVT keeps them: its indicator folder
//! (`mvt-ios download-iocs` writes `*.stix2` there: `$XDG_DATA_HOME/mvt/indicators`,
//! else `~/.local/share/mvt/indicators`; on macOS also
//! `~/Library/Application Support/mvt/indicators`) and the `MVT_STIX2`
//! variable (STIX2 files separated by `:`), read as MVT reads them. Each
//! file is its own source, named `mvt folder: PATH` or `MVT_STIX2: PATH`.
//! A file that cannot be read or parsed is a one-line warning, never a
//! failed scan. `SPYDAR_NO_MVT_INDICATORS=1` (or `--no-mvt-iocs`) skips
//! them all.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use super::IndicatorSet;

/// Source-name prefix of the files of MVT's indicator folder.
pub const FOLDER_PREFIX: &str = "mvt folder: ";
/// Source-name prefix of the files `MVT_STIX2` names.
pub const ENV_PREFIX: &str = "MVT_STIX2: ";
/// The variable MVT reads.
pub const ENV_VAR: &str = "MVT_STIX2";
/// Set to anything but empty or `0` to skip MVT's indicators.
pub const OPT_OUT_VAR: &str = "SPYDAR_NO_MVT_INDICATORS";

fn var(k: &str) -> Option<std::ffi::OsString> {
    std::env::var_os(k).filter(|v| !v.is_empty())
}

/// Whether `SPYDAR_NO_MVT_INDICATORS` asks to skip MVT's indicators.
pub fn opted_out() -> bool {
    var(OPT_OUT_VAR).is_some_and(|v| v != "0")
}

/// MVT's indicator folders that exist, in the order MVT's platform would
/// name them.
pub fn folders() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(d) = var("XDG_DATA_HOME") {
        out.push(PathBuf::from(d).join("mvt").join("indicators"));
    }
    if let Some(h) = var("HOME") {
        let h = PathBuf::from(h);
        out.push(
            h.join(".local")
                .join("share")
                .join("mvt")
                .join("indicators"),
        );
        if cfg!(target_os = "macos") {
            out.push(
                h.join("Library")
                    .join("Application Support")
                    .join("mvt")
                    .join("indicators"),
            );
        }
    }
    out.dedup();
    // MVT reads only the first; a second that exists is read too (the
    // user keeps indicators there), each file once.
    out.into_iter().filter(|d| d.is_dir()).collect()
}

/// The `*.stix2` files directly in `dir` (as MVT lists them; links to
/// regular files followed, sub-folders not read), sorted.
fn stix2_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("stix2"))
        })
        .filter(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
        .collect();
    files.sort();
    files
}

/// The files `MVT_STIX2` names (empty parts skipped).
pub fn env_files() -> Vec<PathBuf> {
    var(ENV_VAR)
        .map(|v| {
            v.to_string_lossy()
                .split(':')
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect()
        })
        .unwrap_or_default()
}

/// Reads one file: a regular file (after links) of at most `cap` bytes.
fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    if meta.len() > cap {
        return Err(format!("is larger than {} MiB", cap >> 20));
    }
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 > cap {
        return Err(format!("is larger than {} MiB", cap >> 20));
    }
    Ok(buf)
}

/// Adds MVT's indicators to `set` (each file at most `cap` bytes); returns
/// one warning line per file that could not be used.
pub fn add(set: &mut IndicatorSet, cap: u64) -> Vec<String> {
    let mut files: Vec<(&str, PathBuf)> = Vec::new();
    for dir in folders() {
        files.extend(stix2_files(&dir).into_iter().map(|f| (FOLDER_PREFIX, f)));
    }
    files.extend(env_files().into_iter().map(|f| (ENV_PREFIX, f)));
    let mut warnings = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for (prefix, path) in files {
        let canon = path.canonicalize().unwrap_or_else(|_| path.clone());
        if seen.contains(&canon) {
            continue;
        }
        seen.push(canon);
        let name = format!("{prefix}{}", path.display());
        let loaded = read_capped(&path, cap).and_then(|bytes| {
            set.add_bytes(&name, &bytes)
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
        if let Err(e) = loaded {
            let e = e
                .strip_prefix(&format!("indicators: {name}: "))
                .unwrap_or(&e)
                .to_string();
            warnings.push(format!("MVT indicators: {}: {e}; not used", path.display()));
        }
    }
    warnings
}
