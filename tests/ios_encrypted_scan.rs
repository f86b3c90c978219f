//! A generated backup with planted indicators and decoys, encrypted by the
//! generator, scans to exactly the records of its plain twin; and no
//! decrypted byte is left on disk after a scan, a failed scan, or an
//! interrupted one.
//!
//! The on-disk checks run the scan in a child process (this test binary
//! re-run on one ignored test) with `TMPDIR` pointed at a folder of the
//! test's own and `SPYDAR_DECRYPT_IN_MEMORY_MAX=0`, so that every database
//! goes through the private temporary folder, the path that could leak.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use spydar::artifacts::ScanOptions;
use spydar::artifacts::ios::scan_backup;
use spydar::error::Error;
use spydar::evidence::private_tmp::PREFIX;
use spydar::fixtures::GenOptions;
use spydar::fixtures::ios_backup::{PLANTS, generate};
use spydar::fixtures::ios_crypto_gen::{EncryptParams, encrypt_backup, generate_encrypted};
use spydar::model::{DeviceScan, ModuleStatus};
use zeroize::Zeroizing;

const PASSWORD: &str = "1234 spydar test";

fn with_password(p: &str) -> ScanOptions {
    ScanOptions {
        password: Some(Zeroizing::new(p.to_string())),
        ..Default::default()
    }
}

/// Everything a module produced except its timing.
fn comparable(scan: &DeviceScan) -> Vec<serde_json::Value> {
    scan.modules
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m.name,
                "status": format!("{:?}", m.status),
                "error": m.error,
                "records": m.records,
            })
        })
        .collect()
}

fn twins(dir: &Path) -> (PathBuf, PathBuf) {
    let plain = dir.join("plain");
    let enc = dir.join("encrypted");
    generate(&plain, &GenOptions::default()).unwrap();
    encrypt_backup(&plain, &enc, &EncryptParams::fast(PASSWORD)).unwrap();
    (plain, enc)
}

#[test]
fn encrypted_generated_backup_scans_like_its_plain_twin() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, enc) = twins(tmp.path());
    let plain_scan = scan_backup(&plain, &ScanOptions::default()).unwrap();
    let enc_scan = scan_backup(&enc, &with_password(PASSWORD)).unwrap();
    for m in &enc_scan.modules {
        assert_ne!(m.status, ModuleStatus::Error, "{}: {:?}", m.name, m.error);
    }
    let (a, b) = (comparable(&plain_scan), comparable(&enc_scan));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "module {} differs", x["name"]);
    }
    // The planted values are really there (not two empty scans).
    let all = serde_json::to_string(&b).unwrap();
    for (_, value) in PLANTS {
        assert!(all.contains(value), "planted {value} missing");
    }
    assert_eq!(
        enc_scan.device.extra.get("encrypted").map(String::as_str),
        Some("true")
    );
    assert_eq!(enc_scan.device.model, plain_scan.device.model);
}

#[test]
fn generator_entry_point_builds_an_encrypted_backup() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("enc");
    let opts = GenOptions {
        password: Some(PASSWORD.into()),
        ..Default::default()
    };
    // The generator's one entry point encrypts when given a password.
    generate(&out, &opts).unwrap();
    assert!(spydar::evidence::ios_backup_decrypt::is_encrypted(&out));
    assert!(
        generate_encrypted(&out, &opts).is_err(),
        "must not overwrite"
    );
    assert!(scan_backup(&out, &with_password(PASSWORD)).is_ok());
    assert!(matches!(
        scan_backup(&out, &with_password("wrong")),
        Err(Error::WrongPassword { .. })
    ));
    assert!(matches!(
        scan_backup(&out, &ScanOptions::default()),
        Err(Error::PasswordRequired { .. })
    ));
}

/// Files and folders under `dir`, recursively, with their sizes.
fn listing(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e.path().to_path_buf(),
                e.metadata().map(|m| m.len()).unwrap_or(0),
            )
        })
        .collect();
    out.sort();
    out
}

/// Runs the child side of this file in a new process.
fn child(mode: &str, backup: &Path, tmpdir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ios_encrypted_scan::child_scan",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("SPYDAR_CHILD_MODE", mode)
        .env("SPYDAR_CHILD_BACKUP", backup)
        .env("TMPDIR", tmpdir)
        .env("SPYDAR_DECRYPT_IN_MEMORY_MAX", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The child: scans the backup (mode `scan`), or scans then panics
/// (`panic`), or opens it, decrypts one database and waits to be killed
/// (`wait`).
#[test]
#[ignore = "child process of the no-plaintext-on-disk tests"]
fn child_scan() {
    let Ok(mode) = std::env::var("SPYDAR_CHILD_MODE") else {
        return;
    };
    let backup = PathBuf::from(std::env::var("SPYDAR_CHILD_BACKUP").unwrap());
    let opts = with_password(PASSWORD);
    match mode.as_str() {
        "scan" => {
            let scan = scan_backup(&backup, &opts).unwrap();
            println!("MODULES {}", scan.modules.len());
        }
        "panic" => {
            let opened = spydar::evidence::ios_backup_decrypt::open_backup(&backup, &opts).unwrap();
            let (_, _conn) = opened
                .open_sqlite_at("HomeDomain", "Library/SMS/sms.db")
                .unwrap();
            panic!("deliberate failure while the backup is open");
        }
        "wait" => {
            let opened = spydar::evidence::ios_backup_decrypt::open_backup(&backup, &opts).unwrap();
            let (_, conn) = opened
                .open_sqlite_at("HomeDomain", "Library/SMS/sms.db")
                .unwrap();
            println!("READY");
            std::thread::sleep(Duration::from_secs(60));
            drop(conn);
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn private_dirs(tmpdir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmpdir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .map(|e| e.path())
        .collect()
}

#[test]
fn no_plaintext_on_disk_after_scan_failure_or_interrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, enc) = twins(tmp.path());
    let before = listing(&enc);

    // 1. A complete scan, every database through the temp folder.
    let tmpdir = tmp.path().join("tmp-scan");
    std::fs::create_dir(&tmpdir).unwrap();
    let out = child("scan", &enc, &tmpdir).wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("MODULES"));
    assert_eq!(
        std::fs::read_dir(&tmpdir).unwrap().count(),
        0,
        "left in TMPDIR"
    );

    // 2. A failure (panic) while a decrypted database is open.
    let tmpdir = tmp.path().join("tmp-panic");
    std::fs::create_dir(&tmpdir).unwrap();
    let status = child("panic", &enc, &tmpdir).wait().unwrap();
    assert!(!status.success());
    assert!(private_dirs(&tmpdir).is_empty(), "left after a failure");

    // 3. Ctrl-C while a decrypted database is open.
    let tmpdir = tmp.path().join("tmp-int");
    std::fs::create_dir(&tmpdir).unwrap();
    let mut proc = child("wait", &enc, &tmpdir);
    let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
    let started = Instant::now();
    loop {
        match lines.next() {
            Some(Ok(line)) if line.contains("READY") => break,
            Some(_) => {}
            None => panic!("child ended before it was ready"),
        }
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    assert_eq!(
        private_dirs(&tmpdir).len(),
        1,
        "the child uses a private folder"
    );
    let kill = Command::new("kill")
        .args(["-INT", &proc.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = proc.wait().unwrap();
    #[cfg(unix)]
    assert_eq!(status.code(), Some(130));
    assert!(private_dirs(&tmpdir).is_empty(), "left after Ctrl-C");

    // The evidence itself was never written to.
    assert_eq!(listing(&enc), before);
}
