//! Builds the project's fixtures: `spydar-fixtures KIND OUT [--scale N] [--clean] [--password P] [--seed S]`.
//! KIND is one of ios-backup, ios-filesystem, sysdiagnose, android-backup, bugreport, bugreport-text,
//! androidqf, androidqf-current, androidqf-abx, bugreport-abx, intrusion-logs.
//! bugreport-current: a bugreport with mount tables and hidden system packages.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use spydar::fixtures::{self, GenOptions};

#[derive(Parser)]
#[command(
    name = "spydar-fixtures",
    about = "Generate synthetic test inputs with planted indicators and decoys"
)]
struct Args {
    /// ios-backup | ios-filesystem | sysdiagnose | android-backup | bugreport | bugreport-text |
    /// androidqf | androidqf-current | androidqf-abx | bugreport-abx | intrusion-logs
    /// | bugreport-current
    kind: String,
    /// Output path (folder or file, depending on the kind). Must not exist.
    out: PathBuf,
    /// Scale factor: 1 is a small sample.
    #[arg(long, default_value_t = 1)]
    scale: u32,
    /// Plant no indicators (decoys only): a clean device.
    #[arg(long)]
    clean: bool,
    /// Encrypt with this password (test fixtures only; spydar itself never takes a password as an argument).
    #[arg(long)]
    password: Option<String>,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// ios-backup only: number of Manifest rows (default 500 × scale).
    #[arg(long)]
    manifest_rows: Option<usize>,
    /// ios-backup only: this many Manifest rows with iOS-sized MBFile blobs
    /// (873010 makes the 1.2 GB Manifest.db of the largest reported backups).
    #[arg(long)]
    manifest_files: Option<usize>,
    /// ios-backup, ios-filesystem: add FORCEDENTRY-style message attachments
    /// (a PDF and a PSD named .gif, ...) and benign look-alikes.
    #[arg(long)]
    disguised_attachments: bool,
    /// ios-filesystem only: add this many empty filler files (the
    /// million-path benchmark).
    #[arg(long)]
    fs_paths: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.out.exists() {
        eprintln!(
            "spydar-fixtures: {}: already exists; refusing to overwrite",
            args.out.display()
        );
        return ExitCode::from(2);
    }
    let opts = GenOptions {
        scale: args.scale.max(1),
        plant: !args.clean,
        password: args.password,
        seed: args.seed,
        manifest_rows: args.manifest_rows,
        manifest_files: args.manifest_files,
        attachments: if args.disguised_attachments {
            fixtures::ios_backup::disguised_attachments()
        } else {
            Vec::new()
        },
    };
    let result = match args.kind.as_str() {
        "ios-backup" => fixtures::ios_backup::generate(&args.out, &opts),
        "ios-filesystem" => fixtures::ios_fs::generate(&args.out, &opts).and_then(|()| {
            args.fs_paths
                .map_or(Ok(()), |n| fixtures::ios_fs::add_paths(&args.out, n))
        }),
        "sysdiagnose" => fixtures::sysdiagnose::generate(&args.out, &opts),
        "android-backup" => fixtures::android::generate_backup(&args.out, &opts),
        "bugreport" => fixtures::android::generate_bugreport(&args.out, &opts),
        "bugreport-text" => fixtures::android::generate_bugreport_text(&args.out, &opts),
        "androidqf" => fixtures::android::generate_androidqf(&args.out, &opts),
        "androidqf-abx" => fixtures::android_abx::generate_androidqf(&args.out, &opts),
        "bugreport-abx" => fixtures::android_abx::generate_bugreport(&args.out, &opts),
        "androidqf-current" => {
            fixtures::android_aqf::generate_androidqf_current(&args.out, &opts, None)
        }
        "intrusion-logs" => fixtures::android_aqf::generate_intrusion_logs(&args.out, &opts),
        "bugreport-current" => fixtures::android::generate_bugreport_current(&args.out, &opts),
        other => {
            eprintln!("spydar-fixtures: unknown kind {other:?}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("spydar-fixtures: {e}");
            ExitCode::from(2)
        }
    }
}
