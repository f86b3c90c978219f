//! Encrypted iOS backups through the `spydar` binary: `scan` with a
//! password or a saved key gives exactly the findings of the plain twin; a
//! wrong password is one line and exit 2; `decrypt` writes a plain backup
//! that scans the same; Ctrl-C leaves no decrypted byte on disk.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use spydar::evidence::private_tmp::PREFIX;
use spydar::fixtures::GenOptions;
use spydar::fixtures::ios_backup::generate;
use spydar::fixtures::ios_crypto_gen::{EncryptParams, encrypt_backup};

const PASSWORD: &str = "open sesame 2024";

fn spydar() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("spydar");
    cmd.env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests");
    cmd
}

struct Twins {
    _dir: tempfile::TempDir,
    root: PathBuf,
    plain: PathBuf,
    enc: PathBuf,
    password_file: PathBuf,
}

fn twins(scale: u32) -> Twins {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let plain = root.join("plain");
    let enc = root.join("encrypted");
    let opts = GenOptions {
        scale,
        ..Default::default()
    };
    generate(&plain, &opts).unwrap();
    encrypt_backup(&plain, &enc, &EncryptParams::fast(PASSWORD)).unwrap();
    let password_file = root.join("password.txt");
    std::fs::write(&password_file, format!("{PASSWORD}\n")).unwrap();
    Twins {
        _dir: dir,
        root,
        plain,
        enc,
        password_file,
    }
}

/// `scan --json` → (exit code, findings).
fn findings(args: &[&std::ffi::OsStr]) -> (i32, Vec<serde_json::Value>) {
    let out = spydar()
        .arg("scan")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    (out.status.code().unwrap_or(-1), findings)
}

fn os(p: &Path) -> &std::ffi::OsStr {
    p.as_os_str()
}

#[test]
fn encrypted_backup_gives_the_findings_of_its_plain_twin() {
    let t = twins(1);
    let (plain_code, plain) = findings(&[os(&t.plain)]);
    let (enc_code, enc) = findings(&["--password-file".as_ref(), os(&t.password_file), os(&t.enc)]);
    assert_eq!(plain_code, 1, "planted indicators make exit 1");
    assert_eq!(enc_code, plain_code);
    assert!(
        plain.iter().any(|f| f["level"] == "detected"),
        "the plain twin has detections"
    );
    assert_eq!(enc, plain);

    // The same through --password-env.
    let out = spydar()
        .args(["scan", "--json", "--password-env", "SPYDAR_TEST_PW"])
        .arg(&t.enc)
        .env("SPYDAR_TEST_PW", PASSWORD)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["findings"].as_array().unwrap(), &plain);
}

#[test]
fn wrong_or_missing_password_is_one_line_and_exit_2() {
    let t = twins(1);
    let started = Instant::now();
    let out = spydar()
        .args(["scan", "--password-env", "SPYDAR_TEST_PW"])
        .arg(&t.enc)
        .env("SPYDAR_TEST_PW", "not it")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("spydar: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].ends_with("wrong password"), "{stderr}");
    assert!(
        errors[0].contains("encrypted"),
        "names the backup: {stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // No password and no terminal to ask on.
    spydar()
        .arg("scan")
        .arg(&t.enc)
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("this backup is encrypted"));
    spydar()
        .args(["decrypt", "-q", "--password-env", "SPYDAR_TEST_PW"])
        .arg(&t.enc)
        .arg("-o")
        .arg(t.root.join("never"))
        .env("SPYDAR_TEST_PW", "not it")
        .assert()
        .code(2)
        .stderr(predicate::str::ends_with("wrong password\n"));
    assert!(!t.root.join("never").exists());
}

#[test]
fn decrypt_command_and_saved_key() {
    let t = twins(1);
    let out = t.root.join("decrypted");
    let key = t.root.join("backup.key");
    spydar()
        .args(["decrypt", "--password-file"])
        .arg(&t.password_file)
        .arg("--save-key")
        .arg(&key)
        .arg(&t.enc)
        .arg("-o")
        .arg(&out)
        .assert()
        .success()
        .stderr(predicate::str::contains("decrypted").and(predicate::str::contains("key saved")));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (_, plain) = findings(&[os(&t.plain)]);
    // The decrypted copy is a plain backup: no password needed.
    let (_, dec) = findings(&[os(&out)]);
    assert_eq!(dec, plain);
    // The saved key opens the encrypted backup without the derivation.
    let (_, with_key) = findings(&["--key-file".as_ref(), os(&key), os(&t.enc)]);
    assert_eq!(with_key, plain);
    // Refuses to write inside the backup, or into a non-empty folder.
    spydar()
        .args(["decrypt", "-q", "--key-file"])
        .arg(&key)
        .arg(&t.enc)
        .arg("-o")
        .arg(t.enc.join("inside"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("inside the backup"));
    assert!(!t.enc.join("inside").exists());
    spydar()
        .args(["decrypt", "-q", "--key-file"])
        .arg(&key)
        .arg(&t.enc)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an empty folder"));
    // A plain backup has nothing to decrypt.
    spydar()
        .args(["decrypt", "-q", "--key-file"])
        .arg(&key)
        .arg(&t.plain)
        .arg("-o")
        .arg(t.root.join("x"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not encrypted"));
}

fn private_dirs(tmpdir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmpdir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// `spydar scan` interrupted (SIGINT) while it holds decrypted databases in
/// its private temporary folder: the folder goes, the exit code is 130.
#[cfg(unix)]
#[test]
fn ctrl_c_during_a_scan_leaves_no_plaintext() {
    let t = twins(10);
    let tmpdir = t.root.join("tmp");
    std::fs::create_dir(&tmpdir).unwrap();
    let bin = assert_cmd::cargo::cargo_bin!("spydar");
    let mut interrupted = false;
    for _attempt in 0..5 {
        let mut child = std::process::Command::new(bin)
            .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
            .args(["scan", "-q", "--password-file"])
            .arg(&t.password_file)
            .arg(&t.enc)
            .env("TMPDIR", &tmpdir)
            .env("SPYDAR_DECRYPT_IN_MEMORY_MAX", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let mut seen = false;
        while started.elapsed() < Duration::from_secs(60) {
            if !private_dirs(&tmpdir).is_empty() {
                seen = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if seen {
            let kill = std::process::Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status()
                .unwrap();
            assert!(kill.success());
        }
        let status = child.wait().unwrap();
        assert!(
            private_dirs(&tmpdir).is_empty(),
            "decrypted files left in {}",
            tmpdir.display()
        );
        assert_eq!(std::fs::read_dir(&tmpdir).unwrap().count(), 0);
        // Either the signal arrived while the folder existed (130), or the
        // scan ended first (1: findings) and the attempt is repeated.
        if seen && status.code() == Some(130) {
            interrupted = true;
            break;
        }
    }
    assert!(
        interrupted,
        "never caught the scan with its private folder open"
    );
}
