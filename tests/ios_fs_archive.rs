//! iOS filesystem dumps handed over as archives: the same generated dump as
//! a folder, `.tar`, `.tar.gz` (with a wrapper folder and with `./`
//! names) and `.zip` gives the same findings; the `filesystem` module finds
//! paths no backup module sees, in both spellings of an indicator; hostile
//! archives are refused in one line; the archive is byte-identical after
//! the scan and the private folder is gone.

use crate::ios_filesystem::statuses;
use serde_json::Value;
use spydar::fixtures::GenOptions;
use spydar::fixtures::ios_fs::{ArchiveForm, FS_DECOYS, FS_PLANTS, generate, write_archive};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `(module, indicator, observable)` of every detected finding.
fn detected(report: &Value) -> BTreeSet<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "detected")
        .map(|f| {
            let s = |v: &Value| v.as_str().unwrap_or("").to_string();
            (
                s(&f["module"]),
                s(&f["indicator"]["value"]),
                s(&f["observable"]["value"]),
            )
        })
        .collect()
}

struct Scanned {
    code: i32,
    report: Option<Value>,
    stderr: String,
}

/// `spydar scan` with its own `TMPDIR`, so the test sees the private
/// folder go.
fn scan(input: &Path, out: &Path, tmp: &Path, extra: &[&str]) -> Scanned {
    std::fs::create_dir_all(tmp).unwrap();
    let output = crate::common::scan_command(input, out, extra)
        .env("TMPDIR", tmp)
        .output()
        .unwrap();
    Scanned {
        code: output.status.code().unwrap_or(-1),
        report: crate::common::find_report(out),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn copy_tree(from: &Path, to: &Path) {
    for e in walkdir::WalkDir::new(from) {
        let e = e.unwrap();
        let dest = to.join(e.path().strip_prefix(from).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

fn dump(dir: &Path) -> PathBuf {
    let dump = dir.join("dump");
    generate(&dump, &GenOptions::default()).unwrap();
    dump
}

#[test]
fn folder_tar_targz_and_zip_give_identical_findings() {
    let dir = tempfile::tempdir().unwrap();
    // With FORCEDENTRY-style attachments: their heads are sniffed.
    let dump = dir.path().join("dump");
    let opts = GenOptions {
        attachments: spydar::fixtures::ios_backup::disguised_attachments(),
        ..GenOptions::default()
    };
    generate(&dump, &opts).unwrap();
    let archives: Vec<(PathBuf, ArchiveForm, Option<&str>)> = vec![
        (dir.path().join("dump.tar"), ArchiveForm::Tar, None),
        (
            dir.path().join("dump.tar.gz"),
            ArchiveForm::TarGz,
            Some("filesystem1"),
        ),
        (dir.path().join("dump.tgz"), ArchiveForm::TarGz, None),
        (dir.path().join("dump.zip"), ArchiveForm::Zip, Some("fs")),
        (
            dir.path().join("files.zip"),
            ArchiveForm::ZipFilesOnly,
            None,
        ),
    ];
    for (path, form, wrapper) in &archives {
        write_archive(&dump, path, *form, *wrapper).unwrap();
    }
    // A dump that says `var/` for `private/var/` (the device's link name).
    let var_form = dir.path().join("var-form");
    copy_tree(&dump, &var_form);
    std::fs::rename(var_form.join("private/var"), var_form.join("var")).unwrap();
    std::fs::remove_dir(var_form.join("private")).unwrap();
    let var_tgz = dir.path().join("var-form.tar.gz");
    write_archive(&var_form, &var_tgz, ArchiveForm::TarGz, Some("dump")).unwrap();
    let mut archives = archives;
    archives.push((var_tgz, ArchiveForm::TarGz, None));
    let folder = scan(
        &dump,
        &dir.path().join("out-folder"),
        &dir.path().join("tmp-folder"),
        &[],
    );
    assert_eq!(folder.code, 1, "{}", folder.stderr);
    let base = folder.report.unwrap();
    let disguised = base["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"].as_str().unwrap_or("").contains("disguised"))
        .count();
    assert!(disguised > 0, "no disguised attachment found");
    let found = detected(&base);
    for p in FS_PLANTS {
        let abs = format!("/{p}");
        assert!(
            found.iter().any(|(m, _, o)| m == "filesystem" && *o == abs),
            "{p} not detected: {found:#?}"
        );
    }
    for d in FS_DECOYS {
        let abs = format!("/{d}");
        assert!(
            !found.iter().any(|(_, _, o)| *o == abs),
            "decoy {d} reported"
        );
    }
    for (i, (path, _, _)) in archives.iter().enumerate() {
        let before = std::fs::read(path).unwrap();
        let tmp = dir.path().join(format!("tmp-{i}"));
        let s = scan(path, &dir.path().join(format!("out-{i}")), &tmp, &[]);
        let name = path.display();
        assert_eq!(s.code, 1, "{name}: {}", s.stderr);
        let report = s.report.unwrap();
        assert_eq!(report["device"]["input_kind"], "ios-filesystem", "{name}");
        assert_eq!(report["device"]["os_version"], base["device"]["os_version"]);
        assert_eq!(detected(&report), found, "{name}");
        assert_eq!(
            report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f["rule"].as_str().unwrap_or("").contains("disguised"))
                .count(),
            disguised,
            "{name}"
        );
        assert_eq!(statuses(&report), statuses(&base), "{name}");
        assert_eq!(report["notes"], serde_json::json!([]), "{name}");
        assert!(std::fs::read(path).unwrap() == before, "{name} changed");
        let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
        assert!(left.is_empty(), "{name}: private folder left: {left:?}");
    }
}

#[test]
fn indicators_in_every_spelling_match_outside_the_backup_domains() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dump(dir.path());
    for rel in [
        "private/var/tmp/spydar-abs.txt",
        "private/var/tmp/spydar-var.txt",
        "private/var/tmp/spydar-rel.txt",
        "private/var/tmp/spydar-var.txt.old",
        "private/var/tmpx/spydar-rel.txtx",
    ] {
        std::fs::write(dump.join(rel), b"x").unwrap();
    }
    let iocs = crate::android_cli::stix(
        dir.path(),
        &[
            "[file:path='/private/var/tmp/spydar-abs.txt']",
            "[file:path='/var/tmp/spydar-var.txt']",
            "[file:path='var/tmp/spydar-rel.txt']",
        ],
    );
    let tgz = dir.path().join("dump.tgz");
    write_archive(&dump, &tgz, ArchiveForm::TarGz, Some("filesystem1")).unwrap();
    for input in [&dump, &tgz] {
        let s = scan(
            input,
            &dir.path()
                .join(format!("out-{}", input.display().to_string().len())),
            &dir.path().join("tmp"),
            &["--no-bundled-iocs", "-i", iocs.to_str().unwrap()],
        );
        let found: BTreeSet<String> = detected(&s.report.unwrap())
            .into_iter()
            .filter(|(m, _, _)| m == "filesystem")
            .map(|(_, i, _)| i)
            .collect();
        assert_eq!(
            found,
            [
                "/private/var/tmp/spydar-abs.txt",
                "/var/tmp/spydar-var.txt",
                "var/tmp/spydar-rel.txt"
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            "{}",
            input.display()
        );
    }
}

/// A tar written header by header, names as given (the tar crate's
/// builder refuses `..` and absolute names).
fn raw_tar(members: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, data, link) in members {
        let mut h = tar::Header::new_ustar();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

const DIR: tar::EntryType = tar::EntryType::Directory;
const FILE: tar::EntryType = tar::EntryType::Regular;

#[test]
fn unsafe_member_names_refuse_the_archive_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (i, bad) in ["private/var/../../../etc/evil", "/private/var/mobile/x"]
        .iter()
        .enumerate()
    {
        let tgz = dir.path().join(format!("bad{i}.tar.gz"));
        let tar = raw_tar(&[
            ("private/var/mobile/", DIR, b"", None),
            ("private/var/mobile/a.txt", FILE, b"a", None),
            (bad, FILE, b"evil", None),
        ]);
        std::fs::write(&tgz, gzip(&tar)).unwrap();
        let s = scan(
            &tgz,
            &dir.path().join(format!("out{i}")),
            &dir.path().join("tmp"),
            &[],
        );
        assert_eq!(s.code, 2, "{}", s.stderr);
        let line = s.stderr.trim();
        assert!(
            line.contains("refused") && line.contains(bad) && line.lines().count() == 1,
            "{line}"
        );
        assert!(!dir.path().join("etc/evil").exists());
    }
}

#[test]
fn links_are_listed_and_never_followed() {
    let dir = tempfile::tempdir().unwrap();
    let tar = raw_tar(&[
        ("fs/private/var/mobile/Library/SMS/", DIR, b"", None),
        (
            "fs/private/var/mobile/Library/SMS/sms.db",
            tar::EntryType::Symlink,
            b"",
            Some("/etc/passwd"),
        ),
        (
            "fs/private/var/mobile/Library/TCC/TCC.db",
            tar::EntryType::Link,
            b"",
            Some("fs/private/var/mobile/Library/SMS/sms.db"),
        ),
        ("fs/private/var/tmp/keychain_dump.txt", FILE, b"x", None),
    ]);
    let path = dir.path().join("links.tar");
    std::fs::write(&path, &tar).unwrap();
    let s = scan(&path, &dir.path().join("out"), &dir.path().join("tmp"), &[]);
    assert_eq!(s.code, 1, "{}", s.stderr);
    let report = s.report.unwrap();
    let st = statuses(&report);
    assert_eq!(st["sms"], "missing", "{st:?}");
    assert_eq!(st["tcc"], "missing", "{st:?}");
    assert!(
        detected(&report)
            .iter()
            .any(|(m, _, o)| m == "filesystem" && o == "/private/var/tmp/keychain_dump.txt")
    );
    // The filesystem module lists the links, with their targets.
    let scan =
        spydar::artifacts::ios::scan_filesystem(&path, &spydar::artifacts::ScanOptions::default())
            .unwrap();
    let records = crate::common::module_records(&scan, "filesystem");
    let sms = records
        .iter()
        .find(|r| r.fields["path"] == "private/var/mobile/Library/SMS/sms.db")
        .unwrap();
    assert_eq!(sms.fields["kind"], "link");
    assert_eq!(sms.fields["symlink_target"], "/etc/passwd");
}

#[test]
fn caps_give_clear_errors_and_notes() {
    use spydar::evidence::ios_fs_archive::{Limits, open_with};
    let needs = spydar::artifacts::ios::filesystem::needs();
    let dir = tempfile::tempdir().unwrap();
    let zeros = vec![0u8; 4 << 20];
    let members = [
        ("private/var/mobile/Library/SMS/", DIR, &b""[..], None),
        (
            "private/var/mobile/Library/SMS/sms.db",
            FILE,
            &zeros[..],
            None,
        ),
        ("private/var/mobile/Media/big.bin", FILE, &zeros[..], None),
    ];
    let tgz = dir.path().join("bomb.tar.gz");
    std::fs::write(&tgz, gzip(&raw_tar(&members))).unwrap();
    let small = Limits {
        bomb_floor: 1 << 20,
        ..Limits::default()
    };
    let err = open_with(&tgz, &needs, small).err().unwrap().to_string();
    assert!(err.contains("decompression bomb"), "{err}");

    let few = Limits {
        max_entries: 2,
        ..Limits::default()
    };
    let err = open_with(&tgz, &needs, few).err().unwrap().to_string();
    assert!(err.contains("more than 2 members"), "{err}");

    let tight = Limits {
        max_needed_file: 1 << 20,
        ..Limits::default()
    };
    let b = open_with(&tgz, &needs, tight).unwrap();
    let notes = b.dump_notes();
    assert!(
        notes.len() == 1 && notes[0].contains("not read: private/var/mobile/Library/SMS/sms.db"),
        "{notes:?}"
    );

    // A zip member modules read that inflates like a bomb.
    let zpath = dir.path().join("bomb.zip");
    {
        use std::io::Write;
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zpath).unwrap());
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        z.add_directory("private/var/mobile/Library/SMS/", o)
            .unwrap();
        z.start_file("private/var/mobile/Library/SMS/sms.db", o)
            .unwrap();
        z.write_all(&zeros).unwrap();
        z.finish().unwrap();
    }
    let zsmall = Limits {
        zip_bomb_floor: 1 << 20,
        ..Limits::default()
    };
    let err = open_with(&zpath, &needs, zsmall).err().unwrap().to_string();
    assert!(err.contains("decompression bomb"), "{err}");
    // With the default caps the same zip reads.
    assert!(open_with(&zpath, &needs, Limits::default()).is_ok());
}

#[test]
fn a_cut_archive_reads_what_is_there_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dump(dir.path());
    let tar = dir.path().join("dump.tar");
    write_archive(&dump, &tar, ArchiveForm::Tar, None).unwrap();
    let bytes = std::fs::read(&tar).unwrap();
    let cut = dir.path().join("cut.tar");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3 + 100]).unwrap();
    let s = scan(&cut, &dir.path().join("out"), &dir.path().join("tmp"), &[]);
    assert!(s.code == 0 || s.code == 1, "{}", s.stderr);
    let report = s.report.unwrap();
    let notes = report["notes"].to_string();
    assert!(notes.contains("truncated or corrupt"), "{notes}");
}

#[test]
fn a_sysdiagnose_tar_gz_is_still_a_sysdiagnose() {
    let dir = tempfile::tempdir().unwrap();
    let sd = dir.path().join("sysdiagnose_2024.tar.gz");
    spydar::fixtures::sysdiagnose::generate(&sd, &GenOptions::default()).unwrap();
    assert_eq!(
        spydar::evidence::detect(&sd).unwrap(),
        spydar::evidence::InputKind::Sysdiagnose
    );
    let dump = dump(dir.path());
    for (name, form) in [
        ("d.tar.gz", ArchiveForm::TarGz),
        ("d.zip", ArchiveForm::Zip),
    ] {
        let p = dir.path().join(name);
        write_archive(&dump, &p, form, Some("filesystem1")).unwrap();
        assert_eq!(
            spydar::evidence::detect(&p).unwrap(),
            spydar::evidence::InputKind::IosFilesystem,
            "{name}"
        );
    }
}
