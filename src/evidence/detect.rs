//! What kind of input a path is. Detection reads names and a few leading
//! bytes, never whole files.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The input kinds spydar knows. The serialised names are what `--kind`
/// takes and what `device.input_kind` says in a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "cli", value(rename_all = "kebab-case"))]
pub enum InputKind {
    /// iTunes/Finder/libimobiledevice backup folder (plain or encrypted).
    IosBackup,
    /// Full iOS filesystem dump (folder with private/var/...).
    IosFilesystem,
    /// iOS sysdiagnose: .tar.gz, .tar or extracted folder.
    Sysdiagnose,
    /// Android `adb backup` file (.ab).
    AndroidBackup,
    /// Android bugreport: zip, extracted folder, or the plain-text
    /// dumpstate `adb bugreport` wrote before Android 7.
    AndroidBugreport,
    /// androidqf acquisition: folder, .zip or .zip.age.
    Androidqf,
    /// Android 16 Advanced Protection intrusion-log export (folder or .zip
    /// of newline-delimited JSON `.txt` files).
    AndroidIntrusionLogs,
}

pub const KNOWN_KINDS: &str = "iOS backups (plain or encrypted), iOS filesystem dumps, sysdiagnose archives (.tar.gz, .tar or folder), Android backups (.ab), Android bugreports (.zip, folder or plain-text .txt) androidqf acquisitions (folder, .zip or .zip.age) and Android intrusion-log exports (folder or .zip)";

impl InputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IosBackup => "ios-backup",
            Self::IosFilesystem => "ios-filesystem",
            Self::Sysdiagnose => "sysdiagnose",
            Self::AndroidBackup => "android-backup",
            Self::AndroidBugreport => "android-bugreport",
            Self::Androidqf => "androidqf",
            Self::AndroidIntrusionLogs => "android-intrusion-logs",
        }
    }
}

impl std::fmt::Display for InputKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn head(path: &Path, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    let Ok(mut f) = super::open_regular(path) else {
        return Vec::new();
    };
    let mut filled = 0;
    while filled < n {
        match f.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => filled += k,
        }
    }
    buf.truncate(filled);
    buf
}

/// Zip member names (central directory only; nothing is decompressed).
fn zip_names(path: &Path) -> Option<Vec<String>> {
    let file = super::open_regular(path).ok()?;
    let archive = zip::ZipArchive::new(std::io::BufReader::new(file)).ok()?;
    Some(
        archive
            .file_names()
            .filter_map(Result::ok)
            .map(|n| n.to_string())
            .collect(),
    )
}

fn is_backup_dir(path: &Path) -> bool {
    path.join("Manifest.db").is_file()
        && (path.join("Info.plist").is_file()
            || path.join("Manifest.plist").is_file()
            || path.join("Status.plist").is_file())
}

fn looks_like_bugreport(names: &[String]) -> bool {
    names.iter().any(|n| {
        let base = n.rsplit('/').next().unwrap_or(n);
        base == "main_entry.txt"
            || (base.starts_with("bugreport-") && base.ends_with(".txt"))
            || base.starts_with("dumpstate")
    })
}

/// Whether these leading bytes are a dumpstate text: `adb bugreport` before
/// Android 7 wrote one plain `.txt`, opening with
/// `====...` / `== dumpstate: <time>` / `====...`.
pub fn is_dumpstate_text(head: &[u8]) -> bool {
    let head = &head[..head.len().min(1024)];
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines().map(str::trim_end).skip_while(|l| l.is_empty());
    let Some(first) = lines.next() else {
        return false;
    };
    first.len() >= 20
        && first.bytes().all(|b| b == b'=')
        && lines
            .next()
            .is_some_and(|l| l.starts_with("== dumpstate: ") || l.starts_with("== dumpstate:"))
}

fn looks_like_androidqf(names: &[String]) -> bool {
    let base = |n: &String| n.rsplit('/').next().unwrap_or(n).to_string();
    let bases: Vec<String> = names.iter().map(base).collect();
    let has = |x: &str| bases.iter().any(|b| b == x);
    // androidqf writes acquisition.json; an encrypted acquisition may hold
    // only its backup.ab (MVT's androidqf_encrypted sample).
    has("acquisition.json")
        || has("backup.ab")
        || ((has("packages.json") || has("getprop.txt") || has("processes.json"))
            && (has("packages.json")
                || has("ps.txt")
                || has("processes.txt")
                || has("dumpsys.txt")))
}

fn looks_like_sysdiagnose_dir(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    name.starts_with("sysdiagnose")
        || path.join("system_logs.logarchive").is_dir()
        || (path.join("ps.txt").is_file() && path.join("logs").is_dir())
}

/// The event types of an Android intrusion-log export (MVT's
/// `KNOWN_INTRUSION_LOG_EVENT_TYPES`).
pub const INTRUSION_EVENT_TYPES: &[&str] = &["dns_event", "connect_event", "security_event"];

/// Whether these leading bytes are an intrusion-log export: the first
/// non-empty line is a JSON object keyed by a known event type.
pub fn is_intrusion_log(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let Some(first) = text.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return false;
    };
    let Some(rest) = first.strip_prefix('{') else {
        return false;
    };
    let rest = rest.trim_start();
    INTRUSION_EVENT_TYPES.iter().any(|t| {
        rest.strip_prefix('"')
            .and_then(|r| r.strip_prefix(t))
            .is_some_and(|r| r.starts_with('"'))
    })
}

/// An Android intrusion-log export: a `.txt` file in the folder (or one
/// level down) opens with a JSON event line (`{"dns_event":...}`).
fn looks_like_intrusion_logs_dir(path: &Path) -> bool {
    walkdir::WalkDir::new(path)
        .max_depth(2)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file() && e.file_name().to_string_lossy().ends_with(".txt"))
        .take(16)
        .any(|e| is_intrusion_log(&head(e.path(), 4096)))
}

/// A zip of intrusion-log `.txt` files (the first few are read, 4 KiB each).
fn looks_like_intrusion_logs_zip(path: &Path) -> bool {
    let Ok(file) = super::open_regular(path) else {
        return false;
    };
    let Ok(mut archive) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        return false;
    };
    let names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.to_string()))
        .filter(|n| n.to_ascii_lowercase().ends_with(".txt"))
        .take(16)
        .collect();
    names.iter().any(|n| {
        let mut buf = Vec::new();
        archive
            .by_name(n)
            .map(|f| f.take(4096).read_to_end(&mut buf).is_ok())
            .unwrap_or(false)
            && is_intrusion_log(&buf)
    })
}

/// Detects the kind of `path`, or explains which kinds spydar knows.
pub fn detect(path: &Path) -> Result<InputKind> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let unsupported = || Error::Unsupported {
        path: path.to_path_buf(),
        known: KNOWN_KINDS,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if !meta.is_dir() && !meta.is_file() {
        // A FIFO would block the scan, a device never ends.
        return Err(Error::input(
            path,
            "not a regular file or folder (a FIFO, device or socket); spydar reads only regular files",
        ));
    }
    if meta.is_dir() {
        if is_backup_dir(path) {
            return Ok(InputKind::IosBackup);
        }
        // A backup folder's usual parent holds one folder per device; the
        // caller expands that. Here: the single-device kinds.
        if path.join("private/var").is_dir() || path.join("private/var/mobile").is_dir() {
            return Ok(InputKind::IosFilesystem);
        }
        let names: Vec<String> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        // Before the sysdiagnose test: androidqf also writes ps.txt and logs/.
        if looks_like_androidqf(&names) {
            return Ok(InputKind::Androidqf);
        }
        if looks_like_sysdiagnose_dir(path) {
            return Ok(InputKind::Sysdiagnose);
        }
        if looks_like_bugreport(&names)
            || path.join("FS").is_dir() && names.iter().any(|n| n.ends_with(".txt"))
        {
            return Ok(InputKind::AndroidBugreport);
        }
        if looks_like_intrusion_logs_dir(path) {
            return Ok(InputKind::AndroidIntrusionLogs);
        }
        if names.is_empty() {
            return Err(Error::input(path, "empty folder: nothing to scan"));
        }
        return Err(unsupported());
    }
    let magic = head(path, 512);
    if magic.starts_with(b"ANDROID BACKUP\n") {
        return Ok(InputKind::AndroidBackup);
    }
    if name.ends_with(".age") || magic.starts_with(b"age-encryption.org/") {
        return Ok(InputKind::Androidqf);
    }
    if magic.starts_with(&[0x1f, 0x8b]) {
        // gzip: sysdiagnose archives are the only gzip input spydar reads.
        return Ok(InputKind::Sysdiagnose);
    }
    if magic.len() > 262 && &magic[257..262] == b"ustar" {
        return Ok(InputKind::Sysdiagnose);
    }
    if magic.starts_with(b"PK\x03\x04") || magic.starts_with(b"PK\x05\x06") {
        let names = zip_names(path).ok_or_else(|| Error::input(path, "unreadable zip archive"))?;
        if looks_like_androidqf(&names) {
            return Ok(InputKind::Androidqf);
        }
        if looks_like_bugreport(&names) {
            return Ok(InputKind::AndroidBugreport);
        }
        if looks_like_intrusion_logs_zip(path) {
            return Ok(InputKind::AndroidIntrusionLogs);
        }
        return Err(unsupported());
    }
    if magic.is_empty() {
        return Err(Error::input(path, "empty file: nothing to scan"));
    }
    if is_dumpstate_text(&head(path, 1024)) {
        return Ok(InputKind::AndroidBugreport);
    }
    Err(unsupported())
}

/// What a path given to `scan` stands for: the inputs to scan, and what a
/// folder of devices holds that is not an input (with the reason), so that
/// nothing in it is skipped silently.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expansion {
    pub inputs: Vec<PathBuf>,
    pub not_inputs: Vec<(PathBuf, String)>,
}

/// Why an entry of a folder of devices is not an input, in one line
/// (`not a recognised input: …`; the path is said elsewhere).
fn not_input_reason(err: &Error) -> String {
    let why = match err {
        Error::Unsupported { .. } => "not one of the kinds spydar reads".to_string(),
        Error::Input { reason, .. } | Error::Truncated { reason, .. } => reason.clone(),
        Error::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    };
    format!("not a recognised input: {why}")
}

/// Expands `path`. A path that is itself one device (any kind [`detect`]
/// knows), or that is not a folder, stands for itself. A folder that is not
/// one device but holds some (a MobileSync `Backup` folder, or any folder of
/// backups, androidqf folders, `.ab` files, bugreport zips, sysdiagnose
/// archives and filesystem dumps side by side) stands for each entry that
/// is one, sorted by name; its other entries are listed as `not_inputs`.
/// Links inside such a folder are not followed (listed, not scanned). A
/// folder holding no device at all stands for itself, so its scan says why.
pub fn expand(path: &Path) -> Expansion {
    expand_as(path, None)
}

/// [`expand`] when the kind is forced (`--kind`): a path is one device of
/// that kind, unless it is a folder whose inputs are all detected as that
/// kind (a MobileSync folder with `--kind ios-backup`); then it is expanded.
pub fn expand_as(path: &Path, forced: Option<InputKind>) -> Expansion {
    let alone = || Expansion {
        inputs: vec![path.to_path_buf()],
        not_inputs: Vec::new(),
    };
    if !path.is_dir() || detect(path).is_ok() {
        return alone();
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return alone();
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    let mut out = Expansion::default();
    for entry in entries {
        let is_link = std::fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink());
        if is_link {
            out.not_inputs.push((
                entry,
                "not a recognised input: a link (links inside a folder of devices are not \
                 followed; give its target as an input)"
                    .to_string(),
            ));
            continue;
        }
        match detect(&entry) {
            Ok(kind) if forced.is_some_and(|f| f != kind) => return alone(),
            Ok(_) => out.inputs.push(entry),
            Err(e) => {
                let why = not_input_reason(&e);
                out.not_inputs.push((entry, why));
            }
        }
    }
    if out.inputs.is_empty() {
        return alone();
    }
    out
}

/// The inputs of [`expand`] (what is not an input left out).
pub fn expand_devices(path: &Path) -> Vec<PathBuf> {
    expand(path).inputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let ab = dir.path().join("x.ab");
        std::fs::write(&ab, b"ANDROID BACKUP\n5\n1\nnone\n").unwrap();
        assert_eq!(detect(&ab).unwrap(), InputKind::AndroidBackup);

        let gz = dir.path().join("whatever.bin");
        std::fs::write(&gz, [0x1f, 0x8b, 8, 0]).unwrap();
        assert_eq!(detect(&gz).unwrap(), InputKind::Sysdiagnose);

        let txt = dir.path().join("notes.txt");
        std::fs::write(&txt, b"hello").unwrap();
        let err = detect(&txt).unwrap_err().to_string();
        assert!(
            err.contains("notes.txt") && err.contains("sysdiagnose"),
            "{err}"
        );

        // A pre-Android-7 `adb bugreport` writes one plain text file.
        let br = dir.path().join("bugreport.txt");
        std::fs::write(
            &br,
            b"========================================================\n== dumpstate: 2012-01-06 01:03:38\n========================================================\n\nBuild: x\n",
        )
        .unwrap();
        assert_eq!(detect(&br).unwrap(), InputKind::AndroidBugreport);
        assert!(!is_dumpstate_text(b"== dumpstate: 2012\n"));
        assert!(!is_dumpstate_text("é".repeat(600).as_bytes()));

        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert!(
            detect(&empty)
                .unwrap_err()
                .to_string()
                .contains("empty folder")
        );

        let aqf = dir.path().join("aqf");
        std::fs::create_dir_all(aqf.join("logs")).unwrap();
        for f in ["ps.txt", "getprop.txt", "packages.json"] {
            std::fs::write(aqf.join(f), b"").unwrap();
        }
        assert_eq!(detect(&aqf).unwrap(), InputKind::Androidqf);
        let enc = dir.path().join("enc");
        std::fs::create_dir(&enc).unwrap();
        std::fs::write(enc.join("backup.ab"), b"ANDROID BACKUP\n").unwrap();
        assert_eq!(detect(&enc).unwrap(), InputKind::Androidqf);
        let sd = dir.path().join("sysdiagnose_2024");
        std::fs::create_dir_all(sd.join("logs")).unwrap();
        std::fs::write(sd.join("ps.txt"), b"").unwrap();
        assert_eq!(detect(&sd).unwrap(), InputKind::Sysdiagnose);

        let backup = dir.path().join("b");
        std::fs::create_dir(&backup).unwrap();
        std::fs::write(backup.join("Manifest.db"), b"").unwrap();
        std::fs::write(backup.join("Info.plist"), b"").unwrap();
        assert_eq!(detect(&backup).unwrap(), InputKind::IosBackup);
        // The folder is no device itself: each entry that is one is an
        // input, each other entry is listed with its reason.
        let e = expand(dir.path());
        let names = |v: Vec<&PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
                .collect()
        };
        assert_eq!(
            names(e.inputs.iter().collect()),
            [
                "aqf",
                "b",
                "bugreport.txt",
                "enc",
                "sysdiagnose_2024",
                "whatever.bin",
                "x.ab"
            ]
        );
        assert_eq!(
            names(e.not_inputs.iter().map(|(p, _)| p).collect()),
            ["empty", "notes.txt"]
        );
        assert_eq!(
            e.not_inputs[0].1,
            "not a recognised input: empty folder: nothing to scan"
        );
        assert_eq!(
            e.not_inputs[1].1,
            "not a recognised input: not one of the kinds spydar reads"
        );
        // A device stands for itself; so does a folder holding none.
        assert_eq!(expand_devices(&backup), vec![backup.clone()]);
        assert_eq!(expand_devices(&empty), vec![empty.clone()]);
        // A forced kind keeps a mixed folder whole.
        assert_eq!(
            expand_as(dir.path(), Some(InputKind::IosBackup)).inputs,
            vec![dir.path().to_path_buf()]
        );
        let mobilesync = dir.path().join("ms");
        std::fs::create_dir(&mobilesync).unwrap();
        let udid = mobilesync.join("UDID");
        std::fs::create_dir(&udid).unwrap();
        std::fs::write(udid.join("Manifest.db"), b"").unwrap();
        std::fs::write(udid.join("Status.plist"), b"").unwrap();
        std::fs::write(mobilesync.join(".DS_Store"), b"").unwrap();
        let e = expand_as(&mobilesync, Some(InputKind::IosBackup));
        assert_eq!(e.inputs, vec![udid]);
        assert_eq!(e.not_inputs.len(), 1);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&backup, dir.path().join("zlink")).unwrap();
            let e = expand(dir.path());
            assert!(!e.inputs.iter().any(|p| p.ends_with("zlink")));
            let link = e.not_inputs.iter().find(|(p, _)| p.ends_with("zlink"));
            assert!(link.unwrap().1.contains("a link"), "{:?}", e.not_inputs);
        }
    }
}
