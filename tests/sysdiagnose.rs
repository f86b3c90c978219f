//! Sysdiagnose reader and modules on generated archives.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use spydar::artifacts::{ScanOptions, SweptLine, TextSweep, sysdiagnose};
use spydar::fixtures::sysdiagnose::{ROOT, planted};
use spydar::fixtures::{GenOptions, sysdiagnose as gen_sd};
use spydar::model::{DeviceScan, Level, ModuleStatus, ObservableType, Record};

/// Flags lines holding one of `words` at non-alphanumeric boundaries: a
/// stand-in for the real matcher's sweep.
struct Words(Vec<&'static str>);

impl TextSweep for Words {
    fn flagged_lines(&self, text: &[u8]) -> Vec<SweptLine> {
        let mut out = Vec::new();
        let mut start = 0;
        for (i, line) in text.split(|b| *b == b'\n').enumerate() {
            let end = start + line.len();
            let hit = self.0.iter().any(|w| {
                let w = w.as_bytes();
                line.windows(w.len()).enumerate().any(|(p, win)| {
                    win == w
                        && (p == 0 || !line[p - 1].is_ascii_alphanumeric())
                        && line
                            .get(p + w.len())
                            .is_none_or(|c| !c.is_ascii_alphanumeric())
                })
            });
            if hit {
                out.push(SweptLine {
                    line_no: i + 1,
                    range: start..end,
                });
            }
            start = end + 1;
        }
        out
    }
}

fn opts() -> ScanOptions {
    ScanOptions {
        text_sweep: Some(Arc::new(Words(vec![
            planted::LOG_DOMAIN,
            planted::SWCUTIL_DOMAIN,
            "/private/var/tmp/hooker",
        ]))),
        ..Default::default()
    }
}

fn generate(dir: &Path, name: &str, plant: bool) -> PathBuf {
    let p = dir.join(name);
    gen_sd::generate(
        &p,
        &GenOptions {
            plant,
            ..Default::default()
        },
    )
    .unwrap();
    p
}

use crate::common::module_records as records;

fn observed(scan: &DeviceScan, module: &str, kind: ObservableType, value: &str) -> bool {
    records(scan, module).iter().any(|r| {
        r.observables
            .iter()
            .any(|o| o.kind == kind && o.value == value)
    })
}

fn all_values(scan: &DeviceScan) -> Vec<String> {
    scan.modules
        .iter()
        .flat_map(|m| m.records.iter())
        .flat_map(|r| r.observables.iter().map(|o| o.value.clone()))
        .collect()
}

#[test]
fn planted_indicators_reach_observables() {
    let dir = tempfile::tempdir().unwrap();
    let p = generate(dir.path(), "s.tar.gz", true);
    let scan = sysdiagnose::scan(&p, &opts()).unwrap();
    // The generated logarchive store is random bytes: `unified_log` says so.
    let notes: Vec<_> = scan
        .notes
        .iter()
        .filter(|n| !n.starts_with("unified_log: "))
        .collect();
    assert!(notes.is_empty(), "{notes:?}");
    for m in scan.modules.iter().filter(|m| m.name != "unified_log") {
        assert_ne!(m.status, ModuleStatus::Error, "{}: {:?}", m.name, m.error);
    }
    assert_eq!(scan.device.model.as_deref(), Some("iPhone14,5"));
    assert_eq!(scan.device.os_version.as_deref(), Some("17.2"));
    assert_eq!(scan.device.build.as_deref(), Some("21C62"));
    assert_eq!(
        scan.device.identifier.as_deref(),
        Some("00008110-000A1B2C3D4E5F6A")
    );
    assert_eq!(scan.device.extra["collected"], "2024-01-02T03:04:05+02:00");

    assert!(observed(
        &scan,
        "shutdown_log",
        ObservableType::Process,
        planted::SHUTDOWN_PROCESS
    ));
    assert!(observed(
        &scan,
        "shutdown_log",
        ObservableType::FilePath,
        planted::SHUTDOWN_FILE_PATH
    ));
    assert!(observed(
        &scan,
        "ps",
        ObservableType::Process,
        planted::PS_PROCESS
    ));
    assert!(observed(
        &scan,
        "ps_thread",
        ObservableType::Process,
        planted::PS_PROCESS
    ));
    assert!(observed(
        &scan,
        "taskinfo",
        ObservableType::Process,
        planted::PS_PROCESS
    ));
    assert!(observed(
        &scan,
        "crash_reports",
        ObservableType::Process,
        planted::CRASH_PROCESS
    ));
    assert!(observed(
        &scan,
        "crash_reports",
        ObservableType::FilePath,
        "/private/var/db/com.apple.xpc.roleaccountd.staging/bh"
    ));
    assert!(observed(
        &scan,
        "profiles",
        ObservableType::ProfileId,
        planted::PROFILE_UUID
    ));
    assert!(observed(
        &scan,
        "swcutil",
        ObservableType::Domain,
        planted::SWCUTIL_DOMAIN
    ));
    assert!(observed(
        &scan,
        "uuid_to_binary",
        ObservableType::FilePath,
        "/private/var/tmp/takePhoto"
    ));
    assert!(observed(
        &scan,
        "unified_log_images",
        ObservableType::Process,
        planted::SHUTDOWN_PROCESS
    ));
    assert_eq!(records(&scan, "unified_log_images").len(), 7);

    // The domain in a log line: one text-sweep record naming member and line.
    let swept: Vec<&Record> = records(&scan, "text_sweep")
        .into_iter()
        .filter(|r| r.observables[0].value.contains(planted::LOG_DOMAIN))
        .collect();
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!(swept[0].fields["member"], "logs/Networking/networkd.log");
    assert_eq!(swept[0].fields["line"], 25);
    assert_eq!(swept[0].observables[0].kind, ObservableType::Text);
    // Near-miss lines (notbackuprabbit.com, backuprabbit.community, /private/var/tmp/hookerz) are not flagged.
    assert_eq!(records(&scan, "text_sweep").len(), 1);

    // Heuristics.
    let alerts: Vec<(String, String)> = records(&scan, "shutdown_log")
        .iter()
        .flat_map(|r| {
            r.alerts.iter().map(|a| {
                (
                    a.rule.clone(),
                    r.fields
                        .get("exe_path")
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                )
            })
        })
        .collect();
    let has = |rule: &str, path: &str| alerts.iter().any(|(r, p)| r == rule && p.contains(path));
    assert!(has("shutdown_log.sticky_process", "staging/mptbd"));
    assert!(has("shutdown_log.unusual_path", "staging/mptbd"));
    assert!(has("shutdown_log.unusual_path", "subridged"));
    assert!(has(
        "shutdown_log.sticky_process",
        "/private/var/tmp/syncagent"
    ));
    assert!(has(
        "shutdown_log.unusual_path",
        "/private/var/tmp/syncagent"
    ));
    assert!(has("shutdown_log.daemon_outside_system", "Caches/healthd"));
    assert_eq!(alerts.len(), 6, "{alerts:?}");
    assert!(
        records(&scan, "shutdown_log")
            .iter()
            .flat_map(|r| &r.alerts)
            .all(|a| a.level == Level::Warning)
    );
}

#[test]
fn clean_archive_has_decoys_only() {
    let dir = tempfile::tempdir().unwrap();
    let p = generate(dir.path(), "clean.tar.gz", false);
    let scan = sysdiagnose::scan(&p, &opts()).unwrap();
    let values = all_values(&scan);
    for planted_value in [
        planted::SHUTDOWN_PROCESS,
        planted::SHUTDOWN_FILE_PATH,
        planted::PS_PROCESS,
        planted::CRASH_PROCESS,
        planted::PROFILE_UUID,
        planted::SWCUTIL_DOMAIN,
    ] {
        assert!(
            !values.iter().any(|v| v == planted_value),
            "{planted_value} in a clean archive"
        );
    }
    // The decoys are there, as near misses.
    for decoy in [
        "cfprefsd",
        "passd",
        "mptbd-helper",
        planted::DECOY_PROFILE_UUID,
    ] {
        assert!(values.iter().any(|v| v == decoy), "decoy {decoy} missing");
    }
    assert!(records(&scan, "text_sweep").is_empty());
    let alerts: Vec<_> = scan
        .modules
        .iter()
        .flat_map(|m| &m.records)
        .flat_map(|r| &r.alerts)
        .collect();
    assert!(alerts.is_empty(), "{alerts:?}");
}

/// Extracts a tar.gz with the tar crate (test only; spydar never does).
fn extract(archive: &Path, into: &Path) {
    let f = std::fs::File::open(archive).unwrap();
    tar::Archive::new(flate2::read::GzDecoder::new(f))
        .unpack(into)
        .unwrap();
}

fn fingerprint(scan: &DeviceScan) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = scan
        .modules
        .iter()
        .flat_map(|m| {
            let status = format!("{:?}", m.status);
            let name = m.name.clone();
            m.records
                .iter()
                .map(move |r| {
                    (
                        name.clone(),
                        status.clone(),
                        serde_json::to_string(r).unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    v.extend(
        scan.modules
            .iter()
            .map(|m| (m.name.clone(), format!("{:?}", m.status), String::new())),
    );
    v
}

#[test]
fn archive_folder_and_tar_give_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let gz = generate(dir.path(), "s.tar.gz", true);
    let tar = generate(dir.path(), "s.tar", true);
    let out = dir.path().join("x");
    extract(&gz, &out);
    let folder = out.join(ROOT);
    let a = sysdiagnose::scan(&gz, &opts()).unwrap();
    let b = sysdiagnose::scan(&folder, &opts()).unwrap();
    let c = sysdiagnose::scan(&tar, &opts()).unwrap();
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert_eq!(fingerprint(&a), fingerprint(&c));
    assert_eq!(a.device.model, b.device.model);
    assert_eq!(a.device.identifier, b.device.identifier);
    assert_eq!(
        a.device.extra.get("collected"),
        b.device.extra.get("collected")
    );
    // The generator's own folder output reads the same too.
    let gen_folder = generate(dir.path(), ROOT, true);
    let d = sysdiagnose::scan(&gen_folder, &opts()).unwrap();
    assert_eq!(fingerprint(&a), fingerprint(&d));
}

#[test]
fn multi_member_gzip_reads_whole() {
    let dir = tempfile::tempdir().unwrap();
    let tar = gen_sd::tar_bytes(&GenOptions::default()).unwrap();
    let mut data = Vec::new();
    for part in tar.chunks(tar.len() / 3 + 1) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(part).unwrap();
        data.extend(gz.finish().unwrap());
    }
    let multi = dir.path().join("multi.tar.gz");
    std::fs::write(&multi, data).unwrap();
    let single = generate(dir.path(), "single.tar.gz", true);
    let a = sysdiagnose::scan(&multi, &opts()).unwrap();
    let b = sysdiagnose::scan(&single, &opts()).unwrap();
    assert!(a.notes.is_empty(), "{:?}", a.notes);
    assert_eq!(fingerprint(&a), fingerprint(&b));
}

#[test]
fn truncated_archive_keeps_early_findings() {
    let dir = tempfile::tempdir().unwrap();
    let p = generate(dir.path(), "s.tar.gz", true);
    let bytes = std::fs::read(&p).unwrap();
    let cut = dir.path().join("cut.tar.gz");
    std::fs::write(&cut, &bytes[..bytes.len() * 6 / 10]).unwrap();
    let scan = sysdiagnose::scan(&cut, &opts()).unwrap();
    let note = scan
        .notes
        .iter()
        .find(|n| n.contains("truncated"))
        .expect("a truncation note");
    assert!(note.contains("after member"), "{note}");
    // Members before the cut were read (the shutdown logs come early).
    assert!(observed(
        &scan,
        "shutdown_log",
        ObservableType::Process,
        planted::SHUTDOWN_PROCESS
    ));
    // Cut before the first member: a clear error, not an empty report.
    let tiny = dir.path().join("tiny.tar.gz");
    std::fs::write(&tiny, &bytes[..40]).unwrap();
    let err = sysdiagnose::scan(&tiny, &opts()).unwrap_err().to_string();
    assert!(
        err.contains("tiny.tar.gz") && err.contains("truncated"),
        "{err}"
    );
}

fn tar_gz_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        // Write the name by hand: tar::Builder refuses `..` (good for it).
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        builder.append(&h, *data).unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&builder.into_inner().unwrap()).unwrap();
    gz.finish().unwrap()
}

#[test]
fn non_sysdiagnose_tar_gz_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("photos.tar.gz");
    std::fs::write(
        &p,
        tar_gz_of(&[("photos/a.txt", b"hello\n"), ("photos/b.txt", b"world\n")]),
    )
    .unwrap();
    let err = sysdiagnose::scan(&p, &opts()).unwrap_err().to_string();
    assert!(
        err.contains("photos.tar.gz") && err.contains("not a sysdiagnose"),
        "{err}"
    );
    let gz_text = dir.path().join("notes.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&[b'a'; 4096]).unwrap();
    std::fs::write(&gz_text, gz.finish().unwrap()).unwrap();
    let err = sysdiagnose::scan(&gz_text, &opts())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("notes.gz") && err.contains("not a tar"),
        "{err}"
    );
}

#[test]
fn path_traversal_member_is_refused_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("evil.tar.gz");
    let shutdown = b"After 0.01s, these clients are still here:\n\t\tremaining client pid: 1 (/usr/bin/x)\nSIGTERM: [1700000000]\nSIGTERM: [1700000100]\n";
    std::fs::write(
        &p,
        tar_gz_of(&[
            (
                "sysdiagnose_x/ps.txt",
                b"USER PID COMMAND\nroot 1 /sbin/launchd\n",
            ),
            ("sysdiagnose_x/../../../tmp/evil.txt", b"backuprabbit.com\n"),
            ("/etc/passwd", b"root:x:0:0\n"),
            (
                "sysdiagnose_x/system_logs.logarchive/Extra/shutdown.log",
                shutdown,
            ),
        ]),
    )
    .unwrap();
    let scan = sysdiagnose::scan(&p, &opts()).unwrap();
    let refused: Vec<&String> = scan.notes.iter().filter(|n| n.contains("unsafe")).collect();
    assert_eq!(refused.len(), 2, "{:?}", scan.notes);
    assert!(refused[0].contains("evil.txt"));
    assert!(records(&scan, "text_sweep").is_empty());
    assert_eq!(records(&scan, "ps").len(), 1);
    assert_eq!(records(&scan, "shutdown_log").len(), 2);
}

#[test]
fn single_thread_pool_does_not_deadlock() {
    let dir = tempfile::tempdir().unwrap();
    let p = generate(dir.path(), "s.tar.gz", true);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let scan = pool.install(|| sysdiagnose::scan(&p, &opts())).unwrap();
    assert!(observed(
        &scan,
        "profiles",
        ObservableType::ProfileId,
        planted::PROFILE_UUID
    ));
}

#[test]
fn committed_sample_matches_the_generator() {
    let sample = Path::new("testdata/sysdiagnose").join(format!("{ROOT}.tar.gz"));
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&sample).unwrap())
        .read_to_end(&mut tar)
        .unwrap();
    let expected = gen_sd::tar_bytes(&GenOptions::default()).unwrap();
    assert!(
        tar == expected,
        "{} differs from what the generator makes; regenerate it with `cargo run --features fixtures --bin spydar-fixtures -- sysdiagnose {}`",
        sample.display(),
        sample.display()
    );
}

#[test]
fn scaled_archive_streams_filler() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.tar.gz");
    gen_sd::generate(
        &p,
        &GenOptions {
            scale: 6,
            ..Default::default()
        },
    )
    .unwrap();
    let scan = sysdiagnose::scan(&p, &opts()).unwrap();
    assert!(scan.notes.is_empty(), "{:?}", scan.notes);
    let members: u64 = scan.device.extra["members"].parse().unwrap();
    assert!(members > 46, "{members}");
    let bytes: u64 = scan.device.extra["uncompressed_bytes"].parse().unwrap();
    assert!(bytes > 10_000_000, "{bytes}");
    assert_eq!(records(&scan, "text_sweep").len(), 1);
}

#[test]
fn links_and_second_roots_are_skipped_and_reported() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, name, data).unwrap();
    };
    add(
        "sysdiagnose_x/ps.txt",
        b"USER PID COMMAND\nroot 1 /sbin/launchd\n",
    );
    add(
        "other/ps.txt",
        b"USER PID COMMAND\nroot 2 /usr/sbin/fservernetd\n",
    );
    let mut link = tar::Header::new_ustar();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    builder
        .append_link(&mut link, "sysdiagnose_x/taskinfo.txt", "/etc/passwd")
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&builder.into_inner().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.tar.gz");
    std::fs::write(&p, gz.finish().unwrap()).unwrap();
    let scan = sysdiagnose::scan(&p, &opts()).unwrap();
    assert_eq!(records(&scan, "ps").len(), 1);
    assert!(!all_values(&scan).iter().any(|v| v == planted::PS_PROCESS));
    let notes = scan.notes.join("\n");
    assert!(
        notes.contains("second top-level folder \"other\""),
        "{notes}"
    );
    assert!(
        notes.contains("link member") && notes.contains("taskinfo.txt"),
        "{notes}"
    );
}
