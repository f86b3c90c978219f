//! Timings for encrypted iOS backups, run by hand in release mode:
//!
//! ```text
//! cargo bench --bench ios_encrypted                      # all three
//! SPYDAR_BENCH_FILES=200000 SPYDAR_BENCH_DIR=bench-out cargo bench --bench ios_encrypted -- decrypt
//! ```
//!
//! `SPYDAR_BENCH_KEEP=PATH` only builds the encrypted backup, at PATH
//! (`benches/decrypt-vs-mvt.sh` uses it).
//!
//! A name after `--` (`kdf`, `decrypt`, `wrong_password`) runs only the
//! benchmarks whose name contains it.
//!
//! `kdf_apple_counts` derives a key with Apple's counts (10,000,000
//! PBKDF2-HMAC-SHA256 rounds, then 10,000 PBKDF2-HMAC-SHA1 rounds).
//! `decrypt_many_files` builds a plain backup of `SPYDAR_BENCH_FILES` files
//! (default 200,000; 64 B to 8 KiB each), encrypts it with the generator,
//! and times `decrypt_backup` on it.

use std::path::Path;
use std::time::Instant;

use spydar::evidence::ios_backup::file_id;
use spydar::evidence::ios_backup_decrypt::{BackupKeys, Secret, decrypt_backup};
use spydar::evidence::ios_crypto::{KdfParams, derive_key};
use spydar::evidence::nskeyed::{MbFile, encode_mbfile};
use spydar::fixtures::Rng;
use spydar::fixtures::ios_crypto_gen::{EncryptParams, encrypt_backup};

fn kdf_apple_counts() {
    let params = KdfParams {
        salt: vec![1; 20],
        iter: 10_000,
        double_protection: Some((vec![2; 20], 10_000_000)),
    };
    let started = Instant::now();
    let key = derive_key(b"a backup password", &params);
    let took = started.elapsed();
    // The same derivation by Python's hashlib (OpenSSL), as MVT's iOSbackup does it.
    assert_eq!(
        hex::encode(AsRef::<[u8]>::as_ref(&key)),
        "27c1c59e36d0767a54af49ed4fdb81578ac2c855201ba7ae3b9d956385c3cb52"
    );
    println!("kdf: 10,000,000 x PBKDF2-HMAC-SHA256 + 10,000 x PBKDF2-HMAC-SHA1: {took:.2?}");
}

fn write_many(dir: &Path, files: u32) -> u64 {
    std::fs::create_dir_all(dir).unwrap();
    let mut db = rusqlite::Connection::open(dir.join("Manifest.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
         CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
    )
    .unwrap();
    let mut rng = Rng::new(7);
    let mut bytes = 0;
    let tx = db.transaction().unwrap();
    for i in 0..files {
        let rel = format!("Library/Bench/{}/file-{i}.bin", i % 97);
        let id = file_id("HomeDomain", &rel);
        let len = 64 + rng.below(8 * 1024 - 64) as usize;
        let data: Vec<u8> = (0..len).map(|j| (j as u32 ^ i) as u8).collect();
        bytes += len as u64;
        std::fs::create_dir_all(dir.join(&id[..2])).unwrap();
        std::fs::write(dir.join(&id[..2]).join(&id), &data).unwrap();
        let mb = MbFile {
            size: Some(len as u64),
            mode: Some(0o100644),
            last_modified: Some(1_700_000_000),
            protection_class: Some(3),
            relative_path: Some(rel.clone()),
            ..Default::default()
        };
        tx.execute(
            "INSERT INTO Files VALUES (?1, 'HomeDomain', ?2, 1, ?3)",
            rusqlite::params![id, rel, encode_mbfile(&mb)],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    plist::Value::Dictionary(plist::Dictionary::new())
        .to_file_xml(dir.join("Info.plist"))
        .unwrap();
    plist::Value::Dictionary(plist::Dictionary::new())
        .to_file_binary(dir.join("Status.plist"))
        .unwrap();
    bytes
}

fn decrypt_many_files() {
    let files: u32 = std::env::var("SPYDAR_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let base = std::env::var("SPYDAR_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .ok();
    let tmp = match &base {
        Some(b) => {
            std::fs::create_dir_all(b).unwrap();
            tempfile::tempdir_in(b).unwrap()
        }
        None => tempfile::tempdir().unwrap(),
    };
    let plain = tmp.path().join("plain");
    // SPYDAR_BENCH_KEEP=PATH keeps the encrypted backup there (for
    // benches/decrypt-vs-mvt.sh) and skips the decryption here.
    let keep = std::env::var_os("SPYDAR_BENCH_KEEP").map(std::path::PathBuf::from);
    let enc = keep.clone().unwrap_or_else(|| tmp.path().join("encrypted"));
    let started = Instant::now();
    let bytes = write_many(&plain, files);
    println!(
        "generated plain backup: {files} files, {bytes} bytes in {:.2?}",
        started.elapsed()
    );
    let started = Instant::now();
    encrypt_backup(&plain, &enc, &EncryptParams::fast("bench")).unwrap();
    println!(
        "encrypted it (generator, one thread) in {:.2?}",
        started.elapsed()
    );
    std::fs::remove_dir_all(&plain).unwrap();
    if keep.is_some() {
        println!("kept the encrypted backup in {}", enc.display());
        return;
    }

    let started = Instant::now();
    let keys = BackupKeys::unlock(&enc, Secret::Password(b"bench")).unwrap();
    let out = tmp.path().join("decrypted");
    let summary = decrypt_backup(&enc, &out, &keys).unwrap();
    let took = started.elapsed();
    assert!(
        summary.failures.is_empty(),
        "{:?}",
        &summary.failures[..3.min(summary.failures.len())]
    );
    assert_eq!(summary.files_decrypted, files as u64);
    assert_eq!(summary.bytes, bytes);
    println!(
        "decrypt_backup: {files} files, {bytes} bytes in {took:.2?} ({:.0} files/s, {:.1} MB/s) on {} threads",
        files as f64 / took.as_secs_f64(),
        bytes as f64 / took.as_secs_f64() / 1e6,
        rayon::current_num_threads()
    );
}

fn wrong_password_apple_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain");
    let enc = tmp.path().join("encrypted");
    write_many(&plain, 10);
    encrypt_backup(&plain, &enc, &EncryptParams::apple("right")).unwrap();
    let started = Instant::now();
    let wrong = BackupKeys::unlock(&enc, Secret::Password(b"wrong"));
    let took = started.elapsed();
    assert!(matches!(
        wrong,
        Err(spydar::error::Error::WrongPassword { .. })
    ));
    println!("wrong password reported after {took:.2?} (Apple's 10,000,000 + 10,000 rounds)");
    let started = Instant::now();
    assert!(BackupKeys::unlock(&enc, Secret::Password(b"right")).is_ok());
    println!("right password unlocked in {:.2?}", started.elapsed());
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument picks benchmarks.
    let picked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let benches: [(&str, fn()); 3] = [
        ("kdf_apple_counts", kdf_apple_counts),
        ("decrypt_many_files", decrypt_many_files),
        ("wrong_password_apple_counts", wrong_password_apple_counts),
    ];
    for (name, f) in benches {
        if picked.is_empty() || picked.iter().any(|p| name.contains(p.as_str())) {
            println!("== {name}");
            f();
        }
    }
}
