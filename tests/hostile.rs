//! Hostile and careless inputs (issue 10 §2–§3, issue 9 §4): each case is
//! built here, at test time, and run through the real binary in a child
//! process. Every case checks: no panic or abort, the documented exit code
//! (0 clean, 1 findings, 2 error), a message naming the file, no file
//! created or changed outside OUTDIR, and peak memory (the child's VmHWM,
//! polled every 5 ms from /proc) under a cap; a watchdog kills a child
//! that hangs, which fails the test.

use crate::common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use spydar::evidence::ios_backup::file_id;
use spydar::fixtures::GenOptions;

const MIB: i64 = 1024;

struct Run {
    code: i32,
    stderr: String,
    /// Peak resident memory of the child, KiB.
    peak_kib: i64,
    timed_out: bool,
}

/// Runs spydar with `args`; stdout and stderr go to files in `logs`.
fn spydar(args: &[OsString], envs: &[(&str, &str)], logs: &Path, timeout: Duration) -> Run {
    let out = std::fs::File::create(logs.join("stdout.txt")).unwrap();
    let err = std::fs::File::create(logs.join("stderr.txt")).unwrap();
    let bin = assert_cmd::cargo::cargo_bin!("spydar");
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let done = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    // Polls the child's own peak (VmHWM of its address space after exec;
    // wait4's ru_maxrss would include the test process, whose memory the
    // spawn shares until exec) and kills it when it hangs.
    let watchdog = {
        let (done, killed) = (done.clone(), killed.clone());
        let bin = std::fs::canonicalize(bin).unwrap();
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut peak_kib = 0i64;
            let exe = PathBuf::from(format!("/proc/{pid}/exe"));
            let status = PathBuf::from(format!("/proc/{pid}/status"));
            while !done.load(Ordering::SeqCst) {
                if start.elapsed() > timeout {
                    killed.store(true, Ordering::SeqCst);
                    // SAFETY: the child is not reaped yet (done is false).
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    break;
                }
                if std::fs::read_link(&exe).is_ok_and(|e| e == bin)
                    && let Ok(text) = std::fs::read_to_string(&status)
                    && let Some(kib) = text
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
                {
                    peak_kib = peak_kib.max(kib);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            peak_kib
        })
    };
    let mut status: libc::c_int = 0;
    // SAFETY: plain waitpid on our own child.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    done.store(true, Ordering::SeqCst);
    std::mem::forget(child);
    let peak_kib = watchdog.join().unwrap();
    assert_eq!(r, pid, "waitpid failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    Run {
        code,
        stderr: std::fs::read_to_string(logs.join("stderr.txt")).unwrap_or_default(),
        peak_kib,
        timed_out: killed.load(Ordering::SeqCst),
    }
}

/// Every entry under `root` except `skip` (OUTDIR): files by content,
/// links by target, FIFOs and folders by kind.
fn world(root: &Path, skip: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for e in walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_entry(|e| !e.path().starts_with(skip))
        .filter_map(Result::ok)
    {
        let ft = e.file_type();
        let what = if ft.is_symlink() {
            format!("link {:?}", std::fs::read_link(e.path()).unwrap())
        } else if ft.is_file() {
            let bytes = std::fs::read(e.path()).unwrap();
            format!("file {} {:x?}", bytes.len(), &bytes[..bytes.len().min(64)])
                + &format!(" {}", simple_hash(&bytes))
        } else if ft.is_dir() {
            "dir".into()
        } else {
            "other".into()
        };
        out.insert(e.path().to_path_buf(), what);
    }
    out
}

fn simple_hash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf29ce484222325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x100000001b3)
    })
}

/// A test's sandbox: `root/` holds the input, `root/out` is OUTDIR, logs
/// live in a separate folder.
struct Case {
    _dir: tempfile::TempDir,
    root: PathBuf,
    logs: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("world");
        std::fs::create_dir(&root).unwrap();
        Case {
            _dir: dir,
            root,
            logs: tempfile::tempdir().unwrap(),
        }
    }

    fn out(&self) -> PathBuf {
        self.root.join("out")
    }

    /// `spydar scan INPUT -o OUT --quiet EXTRA`, checking the universal
    /// promises; returns the run and the device report, if written.
    fn scan(
        &self,
        input: &Path,
        extra: &[&str],
        envs: &[(&str, &str)],
        cap_mib: i64,
    ) -> (Run, Option<Value>) {
        let mut args: Vec<OsString> = vec!["scan".into(), input.into(), "-o".into()];
        args.push(self.out().into());
        args.push("--quiet".into());
        args.extend(extra.iter().map(OsString::from));
        self.run(&args, envs, cap_mib)
    }

    fn run(&self, args: &[OsString], envs: &[(&str, &str)], cap_mib: i64) -> (Run, Option<Value>) {
        // Each run writes a fresh OUTDIR.
        let _ = std::fs::remove_dir_all(self.out());
        let before = world(&self.root, &self.out());
        let run = spydar(args, envs, self.logs.path(), Duration::from_secs(90));
        let after = world(&self.root, &self.out());
        eprintln!(
            "{:?}: exit {}, peak {} MiB",
            args.get(1).or(args.first()),
            run.code,
            run.peak_kib / MIB
        );
        assert!(
            !run.timed_out,
            "spydar hung (killed after 90 s); stderr: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("panicked") && !run.stderr.contains("overflow"),
            "panic: {}",
            run.stderr
        );
        assert!(
            matches!(run.code, 0..=2),
            "exit {} (abort or signal); stderr: {}",
            run.code,
            run.stderr
        );
        assert_eq!(before, after, "files outside OUTDIR changed");
        assert!(
            run.peak_kib < cap_mib * MIB,
            "peak memory {} MiB over the {cap_mib} MiB cap",
            run.peak_kib / MIB
        );
        let report = walkdir::WalkDir::new(self.out())
            .into_iter()
            .filter_map(Result::ok)
            .find(|e| e.file_name() == "report.json")
            .map(|e| serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap());
        (run, report)
    }
}

fn module<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no module {name}"))
}

fn module_error(report: &Value, name: &str) -> String {
    let m = module(report, name);
    assert_eq!(m["status"], "error", "{m}");
    m["error"].as_str().unwrap_or_default().to_string()
}

fn notes(report: &Value) -> String {
    report["notes"].to_string()
}

// ------------------------------------------------------------ builders

use spydar::fixtures::hostile::{
    nested_binary_plist as deep_binary, nested_xml_plist as deep_xml, tar_extension_header,
};

const DEEP: usize = 100_000;

fn backup(case: &Case) -> PathBuf {
    let p = case.root.join("00008030-001A2B3C4D5E6F70");
    spydar::fixtures::ios_backup::generate(
        &p,
        &GenOptions {
            plant: false,
            ..Default::default()
        },
    )
    .unwrap();
    p
}

fn stored(backup: &Path, domain: &str, rel: &str) -> PathBuf {
    let id = file_id(domain, rel);
    backup.join(&id[..2]).join(&id)
}

const PREFS: &str = "Library/Preferences/.GlobalPreferences.plist";

fn replace_with(path: &Path, what: &str) {
    let _ = std::fs::remove_file(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    match what {
        "fifo" => common::mkfifo(path),
        "zero" => std::os::unix::fs::symlink("/dev/zero", path).unwrap(),
        _ => unreachable!(),
    }
}

// ------------------------------------------------------- 1. plist depth

#[test]
fn deep_info_plist_is_an_error_naming_the_file_not_a_crash() {
    for (kind, bytes) in [("xml", deep_xml(DEEP)), ("binary", deep_binary(DEEP))] {
        let case = Case::new();
        let b = backup(&case);
        std::fs::write(b.join("Info.plist"), &bytes).unwrap();
        let (run, _) = case.scan(&b, &[], &[], 200);
        assert_eq!(run.code, 2, "{kind}: {}", run.stderr);
        assert!(
            run.stderr.contains("Info.plist") && run.stderr.contains("nested deeper"),
            "{kind}: {}",
            run.stderr
        );
    }
}

#[test]
fn deep_module_plist_and_manifest_blob_are_module_errors() {
    let case = Case::new();
    let b = backup(&case);
    std::fs::write(stored(&b, "HomeDomain", PREFS), deep_binary(DEEP)).unwrap();
    // One Manifest.db MBFile blob nested 100,000 deep.
    let conn = rusqlite::Connection::open(b.join("Manifest.db")).unwrap();
    conn.execute(
        "UPDATE Files SET file = ?1 WHERE rowid = (SELECT min(rowid) FROM Files)",
        [deep_xml(DEEP)],
    )
    .unwrap();
    drop(conn);
    let (run, report) = case.scan(&b, &[], &[], 300);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = report.unwrap();
    let e = module_error(&report, "global_preferences");
    assert!(
        e.contains(".GlobalPreferences.plist") && e.contains("nested deeper"),
        "{e}"
    );
}

#[test]
fn deep_plists_in_a_filesystem_dump_are_module_errors() {
    let case = Case::new();
    let dump = case.root.join("dump");
    let prefs = dump.join("private/var/mobile").join(PREFS);
    std::fs::create_dir_all(prefs.parent().unwrap()).unwrap();
    std::fs::write(&prefs, deep_xml(DEEP)).unwrap();
    let sv = dump.join("System/Library/CoreServices/SystemVersion.plist");
    std::fs::create_dir_all(sv.parent().unwrap()).unwrap();
    std::fs::write(&sv, deep_binary(DEEP)).unwrap();
    let container = dump.join("private/var/mobile/Containers/Data/Application/0A0B");
    std::fs::create_dir_all(&container).unwrap();
    std::fs::write(
        container.join(".com.apple.mobile_container_manager.metadata.plist"),
        deep_binary(DEEP),
    )
    .unwrap();
    let (run, report) = case.scan(&dump, &[], &[], 300);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let e = module_error(&report.unwrap(), "global_preferences");
    assert!(
        e.contains(".GlobalPreferences.plist") && e.contains("nested deeper"),
        "{e}"
    );
}

#[test]
fn deep_plists_in_a_sysdiagnose_are_module_errors() {
    let case = Case::new();
    let sd = case
        .root
        .join("sysdiagnose_2024.01.02_03-04-05+0200_iPhone-OS_iPhone_21C62");
    std::fs::create_dir_all(sd.join("logs/Networking")).unwrap();
    std::fs::create_dir_all(sd.join("logs/MCState/Shared")).unwrap();
    std::fs::create_dir_all(sd.join("logs/SystemVersion")).unwrap();
    std::fs::write(
        sd.join("ps.txt"),
        "USER PID COMMAND\nroot 1 /sbin/launchd\n",
    )
    .unwrap();
    std::fs::write(
        sd.join("logs/Networking/com.apple.networkextension.plist"),
        deep_xml(DEEP),
    )
    .unwrap();
    std::fs::write(
        sd.join("logs/MCState/Shared/profile-00000000000000000000000000000000abcdef00.stub"),
        deep_binary(DEEP),
    )
    .unwrap();
    std::fs::write(
        sd.join("logs/SystemVersion/SystemVersion.plist"),
        deep_xml(DEEP),
    )
    .unwrap();
    let (run, report) = case.scan(&sd, &[], &[], 300);
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let report = report.unwrap();
    let errors: Vec<String> = report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "error")
        .map(|m| m["error"].as_str().unwrap_or_default().to_string())
        .collect();
    for name in ["com.apple.networkextension.plist", ".stub"] {
        assert!(
            errors
                .iter()
                .any(|e| e.contains(name) && e.contains("nested deeper")),
            "{name} not reported: {errors:?}"
        );
    }
}

// ----------------------------------------------------- 2. FIFOs, links

#[test]
fn fifo_in_place_of_backup_files_is_a_module_error_not_a_hang() {
    let case = Case::new();
    let b = backup(&case);
    replace_with(&stored(&b, "HomeDomain", PREFS), "fifo");
    replace_with(&stored(&b, "HomeDomain", "Library/SMS/sms.db"), "fifo");
    let (run, report) = case.scan(&b, &[], &[], 300);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = report.unwrap();
    let e = module_error(&report, "global_preferences");
    assert!(
        e.contains(".GlobalPreferences.plist") && e.contains("FIFO"),
        "{e}"
    );
    let e = module_error(&report, "sms");
    assert!(
        e.contains("sms.db") && e.contains("not a regular file"),
        "{e}"
    );
}

#[test]
fn fifo_given_as_the_input_is_refused() {
    let case = Case::new();
    let fifo = case.root.join("phone.ab");
    replace_with(&fifo, "fifo");
    for extra in [
        &[][..],
        &["--kind", "android-backup"][..],
        &["--kind", "sysdiagnose"][..],
    ] {
        let (run, _) = case.scan(&fifo, extra, &[], 100);
        assert_eq!(run.code, 2, "{extra:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("phone.ab") && run.stderr.contains("regular file"),
            "{extra:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn backup_files_linked_to_dev_zero_are_module_errors() {
    let case = Case::new();
    let b = backup(&case);
    replace_with(&stored(&b, "HomeDomain", PREFS), "zero");
    replace_with(&stored(&b, "HomeDomain", "Library/SMS/sms.db"), "zero");
    let (run, report) = case.scan(&b, &[], &[], 200);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = report.unwrap();
    for (m, name) in [
        ("global_preferences", ".GlobalPreferences.plist"),
        ("sms", "sms.db"),
    ] {
        let e = module_error(&report, m);
        assert!(e.contains(name) && e.contains("symbolic link"), "{e}");
    }
}

#[test]
fn a_dump_whose_private_folder_is_a_link_is_refused() {
    let case = Case::new();
    let real = case.root.join("elsewhere/private/var/mobile/Library");
    std::fs::create_dir_all(&real).unwrap();
    let dump = case.root.join("dump");
    std::fs::create_dir(&dump).unwrap();
    std::os::unix::fs::symlink("../elsewhere/private", dump.join("private")).unwrap();
    let (run, _) = case.scan(&dump, &[], &[], 100);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("private") && run.stderr.contains("symbolic link"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_dump_file_reached_through_a_linked_folder_is_not_read() {
    let case = Case::new();
    let outside = case.root.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join(".GlobalPreferences.plist"), deep_xml(3)).unwrap();
    let dump = case.root.join("dump");
    let lib = dump.join("private/var/mobile/Library");
    std::fs::create_dir_all(&lib).unwrap();
    std::os::unix::fs::symlink("../../../../outside", lib.join("Preferences")).unwrap();
    let (run, report) = case.scan(&dump, &[], &[], 200);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = module(report.as_ref().unwrap(), "global_preferences");
    assert_ne!(m["status"], "ok", "read through a link: {m}");
}

// -------------------------------------------------------------- 3. SQLite

#[test]
fn a_view_where_a_table_should_be_does_not_spin() {
    let case = Case::new();
    let b = backup(&case);
    let db = stored(&b, "HomeDomain", "Library/SMS/sms.db");
    std::fs::remove_file(&db).unwrap();
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(
            "CREATE TABLE handle (ROWID INTEGER PRIMARY KEY, id TEXT);
             CREATE VIEW message AS
               WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c)
               SELECT n AS ROWID, 'x' AS text, n AS date, 0 AS is_from_me, n AS handle_id FROM c;",
        )
        .unwrap();
    let start = Instant::now();
    let (run, report) = case.scan(&b, &[], &[], 300);
    assert!(start.elapsed() < Duration::from_secs(60));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let m = module(report.as_ref().unwrap(), "sms");
    assert_ne!(m["status"], "ok", "{m}");
}

// ----------------------------------------------------------------- 4. tar

fn tar_member(name: &str, data: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, data).unwrap();
    b.into_inner().unwrap()
}

/// Writes `len` bytes of `byte` to `w` in 1 MiB pieces.
fn fill(w: &mut (impl Write + ?Sized), byte: u8, len: u64) {
    let chunk = vec![byte; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        w.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
}

const HUGE_HEADER: u64 = 256 * 1024 * 1024;

#[test]
fn a_huge_gnu_long_name_in_a_sysdiagnose_is_refused_in_little_memory() {
    let case = Case::new();
    let path = case.root.join("sysdiagnose_x.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    let first = tar_member(
        "sysdiagnose_x/ps.txt",
        b"USER PID COMMAND\nroot 1 /sbin/launchd\n",
    );
    gz.write_all(&first[..first.len() - 1024]).unwrap(); // without the end blocks
    gz.write_all(&tar_extension_header(b'L', HUGE_HEADER))
        .unwrap();
    fill(&mut gz, b'a', HUGE_HEADER);
    gz.write_all(&tar_member("sysdiagnose_x/x.txt", b"x"))
        .unwrap();
    gz.finish().unwrap();
    let (run, report) = case.scan(&path, &[], &[], 128);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let n = notes(&report.unwrap());
    assert!(n.contains("long-name header") && n.contains("cap"), "{n}");
}

/// Writes an unencrypted, compressed `.ab` whose tar stream `body` writes.
fn write_ab(path: &Path, body: impl FnOnce(&mut dyn Write)) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(b"ANDROID BACKUP\n5\n1\nnone\n").unwrap();
    let mut z = flate2::write::ZlibEncoder::new(f, flate2::Compression::fast());
    body(&mut z);
    z.write_all(&[0u8; 1024]).unwrap();
    z.finish().unwrap();
}

#[test]
fn a_huge_pax_header_in_an_android_backup_is_refused_in_little_memory() {
    let case = Case::new();
    let path = case.root.join("phone.ab");
    write_ab(&path, |w| {
        let t = tar_member("apps/x/_manifest", b"manifest");
        w.write_all(&t[..t.len() - 1024]).unwrap(); // without the end blocks
        w.write_all(&tar_extension_header(b'x', HUGE_HEADER))
            .unwrap();
        fill(w, b'0', HUGE_HEADER);
    });
    let (run, report) = case.scan(&path, &[], &[], 128);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let n = notes(&report.unwrap());
    assert!(
        n.contains("pax extended header") && n.contains("phone.ab"),
        "{n}"
    );
}

#[test]
fn zlib_inside_zlib_in_an_android_backup_is_capped() {
    let case = Case::new();
    // 300 MiB of zeros, zlib-compressed (about 300 KB): the SMS member.
    let mut inner = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    fill(&mut inner, 0, 300 * 1024 * 1024);
    let inner = inner.finish().unwrap();
    let path = case.root.join("phone.ab");
    write_ab(&path, |w| {
        for i in 0..3 {
            let name = format!("apps/com.android.providers.telephony/d_f/00000{i}_sms_backup");
            let t = tar_member(&name, &inner);
            w.write_all(&t[..t.len() - 1024]).unwrap();
        }
    });
    let (run, report) = case.scan(&path, &[], &[], 160);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let e = module_error(report.as_ref().unwrap(), "sms");
    assert!(
        e.contains("_sms_backup") && e.contains("decompression bomb"),
        "{e}"
    );
}

// ---------------------------------------------------------- 6. patterns

fn bundle(pattern: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": "bundle", "id": "bundle--1",
        "objects": [{"type": "indicator", "id": "indicator--1", "pattern": pattern, "pattern_type": "stix"}]
    }))
    .unwrap()
}

fn stats(case: &Case, iocs: &Path, cap_mib: i64) -> Run {
    let args: Vec<OsString> = vec![
        "indicators".into(),
        "stats".into(),
        "--no-bundled-iocs".into(),
        "--no-updated-iocs".into(),
        "--iocs".into(),
        iocs.into(),
    ];
    case.run(&args, &[], cap_mib).0
}

#[test]
fn a_pattern_of_ten_thousand_ors_loads_in_linear_memory() {
    let case = Case::new();
    let terms: Vec<String> = (0..10_000)
        .map(|i| format!("domain-name:value = 'host-{i:05}.example-spyware-domain.com'"))
        .collect();
    let p = case.root.join("ors.stix2");
    std::fs::write(&p, bundle(&format!("[{}]", terms.join(" OR ")))).unwrap();
    let run = stats(&case, &p, 128);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // One more term is over the documented limit: refused, naming the file.
    let terms: Vec<String> = (0..10_001)
        .map(|i| format!("domain-name:value = 'h{i}.example'"))
        .collect();
    let p = case.root.join("too-many.stix2");
    std::fs::write(&p, bundle(&format!("[{}]", terms.join(" OR ")))).unwrap();
    let run = stats(&case, &p, 128);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("too-many.stix2") && run.stderr.contains("comparisons"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_huge_pattern_value_is_refused_in_little_memory() {
    let case = Case::new();
    let p = case.root.join("big.stix2");
    let value = "a".repeat(20 * 1024 * 1024);
    std::fs::write(
        &p,
        bundle(&format!("[url:value = 'http://x.example/{value}']")),
    )
    .unwrap();
    let run = stats(&case, &p, 200);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("big.stix2") && run.stderr.contains("bytes"),
        "{}",
        run.stderr
    );
}

// --------------------------------------------- 7. malformed .ab headers

fn encrypted_ab(path: &Path, user_salt: usize, ck_salt: usize, blob: usize) {
    let mut s = String::from("ANDROID BACKUP\n5\n1\nAES-256\n");
    for (n, b) in [(user_salt, 0x11u8), (ck_salt, 0x22)] {
        s.push_str(&hex::encode(vec![b; n]).to_uppercase());
        s.push('\n');
    }
    s.push_str("10000\n");
    s.push_str(&hex::encode([0x33u8; 16]));
    s.push('\n');
    s.push_str(&hex::encode(vec![0x44u8; blob]));
    s.push('\n');
    let mut bytes = s.into_bytes();
    bytes.extend_from_slice(&[0x55; 64]);
    std::fs::write(path, bytes).unwrap();
}

fn check_malformed(case: &Case, path: &Path, reason: &str) {
    for (extra, envs) in [
        (&[][..], &[][..]),
        (&["--password-env", "AB_PW"][..], &[("AB_PW", "12345")][..]),
    ] {
        let (run, _) = case.scan(path, extra, envs, 100);
        assert_eq!(run.code, 2, "{}", run.stderr);
        let name = path.file_name().unwrap().to_string_lossy();
        assert!(
            run.stderr.contains(&*name)
                && run.stderr.contains(reason)
                && !run.stderr.contains("wrong password")
                && !run.stderr.contains("give its password"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_malformed_ab_encryption_header_says_what_is_wrong() {
    let case = Case::new();
    let p = case.root.join("salt.ab");
    encrypted_ab(&p, 65, 64, 96);
    check_malformed(&case, &p, "user salt is 65 bytes");
    let p = case.root.join("cksalt.ab");
    encrypted_ab(&p, 64, 65, 96);
    check_malformed(&case, &p, "checksum salt is 65 bytes");
    let p = case.root.join("blob.ab");
    encrypted_ab(&p, 64, 64, 40);
    check_malformed(&case, &p, "master-key blob is 40 bytes");
}

fn real(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/real/abe-adb-backup")
        .join(name)
}

#[test]
#[ignore = "needs ../shared"]
fn real_malformed_ab_headers_say_what_is_wrong() {
    let case = Case::new();
    check_malformed(
        &case,
        &real("test.encrypted_invalidHeader.backup"),
        "user salt is 65 bytes",
    );
    check_malformed(
        &case,
        &real("test.encrypted_invalidHeader2.backup"),
        "checksum salt is 65 bytes",
    );
    // This one's header is valid (version 2, unencrypted, uncompressed):
    // it is read like any other.
    let (run, report) = case.scan(
        &real("invalid_header.uncompressed.unencrypted.backup"),
        &[],
        &[],
        100,
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(report.is_some());
}
