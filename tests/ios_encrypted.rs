//! Encrypted iOS backups: a plain backup is encrypted with the project's
//! generator, then opened, scanned-through and decrypted by spydar, and
//! every byte must come back.

use std::path::{Path, PathBuf};

use spydar::artifacts::ScanOptions;
use spydar::error::Error;
use spydar::evidence::ios_backup::{IosBackup, file_id};
use spydar::evidence::ios_backup_decrypt::{
    BackupKeys, Decryptor, Secret, decrypt_backup, derive_and_save_key, is_encrypted, open_backup,
};
use spydar::evidence::nskeyed::{MbFile, encode_mbfile};
use spydar::fixtures::ios_crypto_gen::{EncryptParams, encrypt_backup};
use zeroize::Zeroizing;

const PASSWORD: &str = "correct horse battery staple";

/// (domain, relative path, contents) of the small hand-made backup.
fn sample_files() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let mut sms = rusqlite::Connection::open_in_memory().unwrap();
    sms.execute_batch(
        "CREATE TABLE message(ROWID INTEGER PRIMARY KEY, text TEXT);
         INSERT INTO message(text) VALUES ('see https://planted-indicator.example/x');",
    )
    .unwrap();
    let sms_bytes = sms.serialize(rusqlite::MAIN_DB).unwrap().to_vec();
    let _ = &mut sms;
    vec![
        ("HomeDomain", "Library/SMS/sms.db", sms_bytes),
        ("HomeDomain", "Library/Preferences/empty.plist", Vec::new()),
        (
            "HomeDomain",
            "Library/exact16bytes.txt",
            b"0123456789abcdef".to_vec(),
        ),
        (
            "AppDomain-com.example.big",
            "Documents/blob.bin",
            (0..300_000u32).map(|i| (i * 31 % 253) as u8).collect(),
        ),
    ]
}

/// Writes a plain backup with `Manifest.db`, `Info.plist`, `Status.plist`.
fn write_plain_backup(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let db = rusqlite::Connection::open(dir.join("Manifest.db")).unwrap();
    db.execute_batch(
        "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB);
         CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB);",
    )
    .unwrap();
    for (domain, rel, data) in sample_files() {
        let id = file_id(domain, rel);
        std::fs::create_dir_all(dir.join(&id[..2])).unwrap();
        std::fs::write(dir.join(&id[..2]).join(&id), &data).unwrap();
        let mb = MbFile {
            size: Some(data.len() as u64),
            mode: Some(0o100644),
            last_modified: Some(1_700_000_000),
            protection_class: Some(3),
            relative_path: Some(rel.to_string()),
            ..Default::default()
        };
        db.execute(
            "INSERT INTO Files VALUES (?1, ?2, ?3, 1, ?4)",
            rusqlite::params![id, domain, rel, encode_mbfile(&mb)],
        )
        .unwrap();
    }
    // A folder row and a listed-but-absent file, as real backups have.
    let mb = encode_mbfile(&MbFile::default());
    db.execute(
        "INSERT INTO Files VALUES (?1, 'HomeDomain', 'Library', 2, ?2)",
        rusqlite::params![file_id("HomeDomain", "Library"), mb],
    )
    .unwrap();
    db.execute(
        "INSERT INTO Files VALUES (?1, 'HomeDomain', 'Library/gone.db', 1, ?2)",
        rusqlite::params![file_id("HomeDomain", "Library/gone.db"), mb],
    )
    .unwrap();
    drop(db);
    let mut info = plist::Dictionary::new();
    info.insert("Product Version".into(), "17.1".into());
    info.insert("Device Name".into(), "Test iPhone".into());
    plist::Value::Dictionary(info)
        .to_file_xml(dir.join("Info.plist"))
        .unwrap();
    let mut status = plist::Dictionary::new();
    status.insert("IsFullBackup".into(), false.into());
    plist::Value::Dictionary(status)
        .to_file_binary(dir.join("Status.plist"))
        .unwrap();
}

fn encrypted_twin(tmp: &Path, params: &EncryptParams) -> (PathBuf, PathBuf) {
    let plain = tmp.join("plain");
    let enc = tmp.join("encrypted");
    write_plain_backup(&plain);
    encrypt_backup(&plain, &enc, params).unwrap();
    (plain, enc)
}

fn opts_with_password(p: &str) -> ScanOptions {
    ScanOptions {
        password: Some(Zeroizing::new(p.to_string())),
        ..Default::default()
    }
}

/// Every stored file, read through the backup layer, as (logical path, bytes).
fn all_contents(backup: &IosBackup) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (domain, rel, _) in sample_files() {
        let entry = backup.entry(domain, rel).unwrap().unwrap();
        out.push((entry.logical_path(), backup.read(&entry).unwrap()));
    }
    out
}

#[test]
fn encrypted_backup_reads_like_its_plain_twin() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, enc) = encrypted_twin(tmp.path(), &EncryptParams::fast(PASSWORD));
    assert!(is_encrypted(&enc));
    assert!(!is_encrypted(&plain));
    // The stored bytes really are ciphertext.
    let sms_id = file_id("HomeDomain", "Library/SMS/sms.db");
    let stored = std::fs::read(enc.join(&sms_id[..2]).join(&sms_id)).unwrap();
    assert!(!stored.starts_with(b"SQLite format 3"));
    assert!(
        !std::fs::read(enc.join("Manifest.db"))
            .unwrap()
            .starts_with(b"SQLite format 3")
    );

    let plain_backup = IosBackup::open(&plain).unwrap();
    let enc_backup = open_backup(&enc, &opts_with_password(PASSWORD)).unwrap();
    assert_eq!(all_contents(&enc_backup), all_contents(&plain_backup));
    let entry = enc_backup
        .entry("HomeDomain", "Library/SMS/sms.db")
        .unwrap()
        .unwrap();
    let conn = enc_backup.open_sqlite(&entry).unwrap();
    let text: String = conn
        .query_row("SELECT text FROM message", [], |r| r.get(0))
        .unwrap();
    assert!(text.contains("planted-indicator.example"));
    // The plain reader still refuses an encrypted backup on its own.
    assert!(IosBackup::open(&enc).is_err());
}

#[test]
fn wrong_or_missing_password_is_typed_and_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, enc) = encrypted_twin(tmp.path(), &EncryptParams::fast(PASSWORD));
    let started = std::time::Instant::now();
    match open_backup(&enc, &opts_with_password("not the password")) {
        Err(e @ Error::WrongPassword { .. }) => {
            let line = e.to_string();
            assert!(line.ends_with("wrong password"), "{line}");
            assert!(!line.contains('\n'));
        }
        Err(other) => panic!("expected WrongPassword, got {other}"),
        Ok(_) => panic!("a wrong password opened the backup"),
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(matches!(
        open_backup(&enc, &ScanOptions::default()),
        Err(Error::PasswordRequired { .. })
    ));
}

#[test]
fn saved_key_skips_the_derivation_and_is_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, enc) = encrypted_twin(tmp.path(), &EncryptParams::fast(PASSWORD));
    let key_file = tmp.path().join("backup.key");
    // A wrong password is never saved.
    assert!(matches!(
        derive_and_save_key(&enc, b"nope", &key_file),
        Err(Error::WrongPassword { .. })
    ));
    assert!(!key_file.exists());
    derive_and_save_key(&enc, PASSWORD.as_bytes(), &key_file).unwrap();
    let text = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(text.len(), 64);
    let opts = ScanOptions {
        key_file: Some(key_file.clone()),
        ..Default::default()
    };
    let backup = open_backup(&enc, &opts).unwrap();
    assert_eq!(
        all_contents(&backup),
        all_contents(&IosBackup::open(&plain).unwrap())
    );
    // Refuses to overwrite, and a key for another backup is a wrong password.
    assert!(derive_and_save_key(&enc, PASSWORD.as_bytes(), &key_file).is_err());
    let other = tmp.path().join("other");
    let other_params = EncryptParams {
        seed: 99,
        ..EncryptParams::fast(PASSWORD)
    };
    encrypt_backup(&plain, &other, &other_params).unwrap();
    assert!(matches!(
        open_backup(&other, &opts),
        Err(Error::WrongPassword { .. })
    ));
}

#[test]
fn legacy_single_pbkdf2_scheme() {
    let tmp = tempfile::tempdir().unwrap();
    let params = EncryptParams {
        legacy: true,
        ..EncryptParams::fast(PASSWORD)
    };
    let (plain, enc) = encrypted_twin(tmp.path(), &params);
    // Before iOS 10.2, Manifest.db itself was not encrypted.
    assert!(
        std::fs::read(enc.join("Manifest.db"))
            .unwrap()
            .starts_with(b"SQLite format 3")
    );
    let backup = open_backup(&enc, &opts_with_password(PASSWORD)).unwrap();
    assert_eq!(
        all_contents(&backup),
        all_contents(&IosBackup::open(&plain).unwrap())
    );
    assert!(matches!(
        open_backup(&enc, &opts_with_password("x")),
        Err(Error::WrongPassword { .. })
    ));
    let keys = BackupKeys::unlock(&enc, Secret::Password(PASSWORD.as_bytes())).unwrap();
    let out = tmp.path().join("decrypted");
    let summary = decrypt_backup(&enc, &out, &keys).unwrap();
    assert_eq!(summary.files_decrypted, 4);
    assert_eq!(
        all_contents(&IosBackup::open(&out).unwrap()),
        all_contents(&IosBackup::open(&plain).unwrap())
    );
}

#[test]
fn decrypt_writes_a_plain_backup_the_plain_reader_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, enc) = encrypted_twin(tmp.path(), &EncryptParams::fast(PASSWORD));
    let keys = BackupKeys::unlock(&enc, Secret::Password(PASSWORD.as_bytes())).unwrap();
    let out = tmp.path().join("decrypted");
    let summary = decrypt_backup(&enc, &out, &keys).unwrap();
    assert_eq!(summary.files_decrypted, 4);
    assert_eq!(summary.files_missing, 1);
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(
        summary.bytes,
        sample_files().iter().map(|f| f.2.len() as u64).sum::<u64>()
    );
    assert!(!is_encrypted(&out));
    let manifest = plist::Value::from_file(out.join("Manifest.plist")).unwrap();
    let manifest = manifest.as_dictionary().unwrap();
    assert_eq!(
        manifest.get("IsEncrypted").and_then(|v| v.as_boolean()),
        Some(false)
    );
    assert!(manifest.get("ManifestKey").is_none());
    let decrypted = IosBackup::open(&out).unwrap();
    assert_eq!(
        all_contents(&decrypted),
        all_contents(&IosBackup::open(&plain).unwrap())
    );
    for name in ["Info.plist", "Status.plist"] {
        assert_eq!(
            std::fs::read(out.join(name)).unwrap(),
            std::fs::read(plain.join(name)).unwrap()
        );
    }
    // Byte-identical stored files, and modification times carried over.
    for (domain, rel, data) in sample_files() {
        let id = file_id(domain, rel);
        let path = out.join(&id[..2]).join(&id);
        assert_eq!(std::fs::read(&path).unwrap(), data, "{rel}");
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(
            mtime
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
            1_700_000_000
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}

#[test]
fn decrypt_refuses_to_write_inside_the_input_or_over_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, enc) = encrypted_twin(tmp.path(), &EncryptParams::fast(PASSWORD));
    let keys = BackupKeys::unlock(&enc, Secret::Password(PASSWORD.as_bytes())).unwrap();
    for inside in [
        enc.join("out"),
        enc.join("a/b/c"),
        enc.clone(),
        enc.join("../encrypted/x"),
    ] {
        let err = decrypt_backup(&enc, &inside, &keys)
            .unwrap_err()
            .to_string();
        assert!(err.contains("inside the backup"), "{err}");
        assert!(!inside.join("Manifest.db").exists() || inside == enc);
    }
    #[cfg(unix)]
    {
        let link = tmp.path().join("sneaky");
        std::os::unix::fs::symlink(&enc, &link).unwrap();
        let err = decrypt_backup(&enc, &link.join("out"), &keys)
            .unwrap_err()
            .to_string();
        assert!(err.contains("inside the backup"), "{err}");
    }
    let busy = tmp.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), b"x").unwrap();
    let err = decrypt_backup(&enc, &busy, &keys).unwrap_err().to_string();
    assert!(err.contains("not an empty folder"), "{err}");
    // An existing empty folder is fine.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(decrypt_backup(&enc, &empty, &keys).is_ok());
}

#[test]
fn large_database_goes_through_a_private_temp_dir_that_is_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, enc) = encrypted_twin(tmp.path(), &EncryptParams::fast(PASSWORD));
    let base = tmp.path().join("tmp");
    std::fs::create_dir(&base).unwrap();
    let keys = BackupKeys::unlock(&enc, Secret::Password(PASSWORD.as_bytes())).unwrap();
    let manifest = keys.manifest_db(&enc).unwrap().to_vec();
    // Limit 0: every database counts as too large for memory.
    let decryptor = Decryptor::with_limits(keys, 0, Some(base.clone()));
    let backup = IosBackup::open_decrypted(&enc, manifest, Box::new(decryptor)).unwrap();
    let entry = backup
        .entry("HomeDomain", "Library/SMS/sms.db")
        .unwrap()
        .unwrap();
    let conn = backup.open_sqlite(&entry).unwrap();
    // The private folder exists (mode 0700) but is already empty: the
    // decrypted file was unlinked as soon as SQLite had it open.
    let dirs: Vec<_> = std::fs::read_dir(&base).unwrap().flatten().collect();
    assert_eq!(dirs.len(), 1);
    assert_eq!(std::fs::read_dir(dirs[0].path()).unwrap().count(), 0);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = dirs[0].metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
    let text: String = conn
        .query_row("SELECT text FROM message", [], |r| r.get(0))
        .unwrap();
    assert!(text.contains("planted-indicator"));
    // Same rows as the plain twin.
    let plain_backup = IosBackup::open(&plain).unwrap();
    let (_, plain_conn) = plain_backup
        .open_sqlite_at("HomeDomain", "Library/SMS/sms.db")
        .unwrap();
    let plain_text: String = plain_conn
        .query_row("SELECT text FROM message", [], |r| r.get(0))
        .unwrap();
    assert_eq!(text, plain_text);
    // Modules open the same database in parallel (sms, sms_attachments).
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let c = backup.open_sqlite(&entry).unwrap();
                let n: i64 = c
                    .query_row("SELECT count(*) FROM message", [], |r| r.get(0))
                    .unwrap();
                assert_eq!(n, 1);
            });
        }
    });
    drop(conn);
    drop(backup);
    assert_eq!(
        std::fs::read_dir(&base).unwrap().count(),
        0,
        "temp folder left behind"
    );
}

/// The same round trip on MVT's own sample backup (3,721 manifest rows).
#[test]
#[ignore = "needs ../shared"]
fn mvt_sample_backup_round_trip() {
    let sample = Path::new("../shared/fixtures/mvt/ios_backup");
    let tmp = tempfile::tempdir().unwrap();
    let enc = tmp.path().join("enc");
    encrypt_backup(sample, &enc, &EncryptParams::fast(PASSWORD)).unwrap();
    let keys = BackupKeys::unlock(&enc, Secret::Password(PASSWORD.as_bytes())).unwrap();
    let out = tmp.path().join("dec");
    let summary = decrypt_backup(&enc, &out, &keys).unwrap();
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    let plain = IosBackup::open(sample).unwrap();
    let listed = |id: &str| -> bool {
        plain
            .manifest_connection()
            .unwrap()
            .query_row("SELECT 1 FROM Files WHERE fileID = ?1", [id], |_| Ok(()))
            .is_ok()
    };
    let mut stored = 0;
    for dir in std::fs::read_dir(sample)
        .unwrap()
        .flatten()
        .filter(|d| d.path().is_dir())
    {
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            // The sample holds one file (e794f6ff...) its Manifest.db does not list.
            if !listed(&f.file_name().to_string_lossy()) {
                continue;
            }
            let rel = f.path().strip_prefix(sample).unwrap().to_path_buf();
            assert_eq!(
                std::fs::read(out.join(&rel)).unwrap(),
                std::fs::read(f.path()).unwrap(),
                "{rel:?}"
            );
            stored += 1;
        }
    }
    assert_eq!(summary.files_decrypted, stored);
    assert_eq!(stored, 10);
    let dec = IosBackup::open(&out).unwrap();
    let count = |b: &IosBackup| -> i64 {
        b.manifest_connection()
            .unwrap()
            .query_row("SELECT count(*) FROM Files", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&plain), 3721);
    assert_eq!(count(&dec), 3721);
}
