//! `spydar decrypt BACKUP -o OUT`: a plain copy of an encrypted iOS backup
//! (same layout, `Manifest.db` in the clear, `IsEncrypted` false) for tools
//! that read only plain backups; and `--save-key` to keep the derived key
//! for `spydar scan --key-file`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::scan::password_from;
use super::{EXIT_CLEAN, EXIT_ERROR};
use crate::error::Error;
use crate::evidence::ios_backup_decrypt::{BackupKeys, Secret, decrypt_backup, is_encrypted};
use crate::evidence::ios_crypto;

#[derive(Args)]
pub struct DecryptArgs {
    /// The encrypted iOS backup folder.
    #[arg(value_name = "BACKUP")]
    pub backup: PathBuf,
    /// Write the plain backup here (a new or empty folder, not inside BACKUP).
    #[arg(
        short,
        long,
        value_name = "OUTDIR",
        required_unless_present = "save_key"
    )]
    pub output: Option<PathBuf>,
    /// Read the backup password from the first line of this file.
    #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
    pub password_file: Option<PathBuf>,
    /// Read the backup password from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
    /// Use a key saved with --save-key (or by `mvt-ios extract-key -k`) instead of the password.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["password_file", "password_env", "save_key"])]
    pub key_file: Option<PathBuf>,
    /// Save the key derived from the password to FILE (mode 0600), for --key-file later.
    #[arg(long, value_name = "FILE")]
    pub save_key: Option<PathBuf>,
    /// No progress lines on stderr (errors still go there).
    #[arg(short, long)]
    pub quiet: bool,
}

fn unlock(args: &DecryptArgs) -> Result<BackupKeys, Error> {
    if let Some(key_file) = &args.key_file {
        super::check_user_file(key_file, super::MAX_PASSWORD_FILE)?;
        let key =
            ios_crypto::load_key(key_file).map_err(|e| Error::input(key_file, e.to_string()))?;
        return BackupKeys::unlock(&args.backup, Secret::DerivedKey(key));
    }
    let password = match password_from(args.password_file.as_deref(), args.password_env.as_deref())?
    {
        Some(p) => p,
        None => {
            super::scan::prompt_password(&args.backup).ok_or_else(|| Error::PasswordRequired {
                path: args.backup.clone(),
            })?
        }
    };
    if !args.quiet {
        eprintln!("deriving the backup key (a few seconds)...");
    }
    let clock = Instant::now();
    let keys = BackupKeys::unlock(&args.backup, Secret::Password(password.as_bytes()))?;
    if !args.quiet {
        eprintln!("key derived in {:.1} s", clock.elapsed().as_secs_f64());
    }
    Ok(keys)
}

pub fn run(args: DecryptArgs) -> Result<u8, Error> {
    if !args.backup.join("Manifest.plist").is_file() {
        return Err(Error::input(
            &args.backup,
            "not an iOS backup folder (no Manifest.plist)",
        ));
    }
    if !is_encrypted(&args.backup) {
        return Err(Error::input(
            &args.backup,
            "this backup is not encrypted (Manifest.plist IsEncrypted is not true); scan it directly",
        ));
    }
    // Checked before the slow key derivation, and here too because a plain
    // copy of the evidence written inside the evidence would alter it.
    if let Some(out) = &args.output {
        super::output::check_not_inside(out, &args.backup, "backup")?;
    }
    if let Some(key) = &args.save_key {
        super::output::check_not_inside(key, &args.backup, "backup")?;
    }
    let keys = unlock(&args)?;
    if let Some(path) = &args.save_key {
        ios_crypto::save_key(path, keys.derived_key())
            .map_err(|e| Error::input(path, e.to_string()))?;
        if !args.quiet {
            eprintln!(
                "key saved to {} (mode 0600); keep it as safe as the password",
                path.display()
            );
        }
    }
    let Some(out) = &args.output else {
        return Ok(EXIT_CLEAN);
    };
    let clock = Instant::now();
    let summary = decrypt_backup(&args.backup, out, &keys)?;
    if !args.quiet {
        eprintln!(
            "decrypted {} files ({} bytes), copied {} stored in the clear, {} listed but absent, in {:.1} s; plain backup in {}",
            summary.files_decrypted,
            summary.bytes,
            summary.files_copied,
            summary.files_missing,
            clock.elapsed().as_secs_f64(),
            out.display()
        );
    }
    if summary.failures.is_empty() {
        return Ok(EXIT_CLEAN);
    }
    for line in summary.failures.iter().take(20) {
        eprintln!("spydar: {line}");
    }
    eprintln!(
        "spydar: {} file(s) could not be decrypted",
        summary.failures.len()
    );
    Ok(EXIT_ERROR)
}
