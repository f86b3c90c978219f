//! Disguised attachments (Citizen Lab, FORCEDENTRY, 2021): message
//! attachments named as images whose bytes are a PDF, a Photoshop file or a
//! program raise `sms_attachments.disguised_image`, in plain and encrypted
//! backups and in filesystem dumps; a real GIF, a PNG saved as `.jpg`, a
//! HEIC photo and unknown bytes stay silent.

use crate::common;

use spydar::artifacts::ScanOptions;
use spydar::artifacts::ios::{Ctx, sms_attachments};
use spydar::evidence::ios_backup::IosBackup;
use spydar::fixtures::GenOptions;
use spydar::fixtures::ios_backup::{Attachment, disguised_attachments};
use spydar::model::Record;
use zeroize::Zeroizing;

const RULE: &str = "sms_attachments.disguised_image";

fn with_attachments() -> GenOptions {
    GenOptions {
        attachments: disguised_attachments(),
        ..Default::default()
    }
}

/// `(file name, alert message, record)` of every disguised-image alert.
fn flagged(backup: &IosBackup, opts: &ScanOptions) -> Vec<(String, String, Record)> {
    let records = sms_attachments::run(&Ctx { backup, opts }).unwrap();
    let mut out = Vec::new();
    for r in records {
        for a in r.alerts.iter().filter(|a| a.rule == RULE) {
            assert_eq!(a.level.as_str(), "warning");
            assert_eq!(a.severity.as_str(), "high");
            let name = r.fields["filename"].as_str().unwrap();
            let name = name.rsplit('/').next().unwrap().to_string();
            out.push((name, a.message.clone(), r.clone()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The three disguised files of [`disguised_attachments`] are flagged with
/// their claimed and actual types and their message; nothing else is.
fn check(backup: &IosBackup, opts: &ScanOptions) {
    let all = disguised_attachments();
    let k = |name: &str| all.iter().position(|a| a.name == name).unwrap();
    let got = flagged(backup, opts);
    let names: Vec<&str> = got.iter().map(|(n, _, _)| n.as_str()).collect();
    assert_eq!(names, ["image.gif", "image2.gif", "photo.png"], "{got:#?}");

    let (_, msg, rec) = &got[0];
    let rel = all[k("image.gif")].relative_path(k("image.gif"));
    let message_id = Attachment::message_id(k("image.gif"));
    assert!(
        msg.starts_with(&format!(
            "Attachment {rel} is named as a .gif image but its bytes are PDF (application/pdf): message {message_id} (guid "
        )),
        "{msg}"
    );
    assert!(
        msg.contains(", received from +1415555") && msg.contains(" at 2021-08-31T22:00:00Z"),
        "{msg}"
    );
    assert_eq!(rec.fields["claimed_type"], ".gif image");
    assert_eq!(rec.fields["actual_type"], "PDF (application/pdf)");
    assert_eq!(rec.fields["message_id"], message_id);
    assert!(rec.fields["message_guid"].as_str().unwrap().len() > 30);
    assert_eq!(rec.fields["direction"], "received");

    let (_, msg, rec) = &got[1];
    assert!(
        msg.contains(
            "is named as a .gif image but its bytes are PSD (image/vnd.adobe.photoshop): message "
        ),
        "{msg}"
    );
    assert_eq!(
        rec.fields["message_id"],
        Attachment::message_id(k("image2.gif"))
    );

    // A file in the attachments folder that no message names.
    let (_, msg, rec) = &got[2];
    assert!(
        msg.ends_with(
            "is named as a .png image but its bytes are MACH (application/x-mach-binary); no message in sms.db names it"
        ),
        "{msg}"
    );
    assert!(rec.fields["message_id"].is_null());
    assert!(rec.timestamp.is_some());
}

#[test]
fn plain_backup_flags_pdf_and_psd_named_gif_and_nothing_benign() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("backup");
    spydar::fixtures::ios_backup::generate(&root, &with_attachments()).unwrap();
    let backup = IosBackup::open(&root).unwrap();
    check(&backup, &ScanOptions::default());
}

#[test]
fn filesystem_dump_flags_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("dump");
    spydar::fixtures::ios_fs::generate(&root, &with_attachments()).unwrap();
    let backup = spydar::evidence::ios_fs::open(&root).unwrap();
    assert!(backup.is_filesystem());
    check(&backup, &ScanOptions::default());
}

#[test]
fn encrypted_backup_flags_the_same_files_from_decrypted_heads() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("enc");
    let password = "disguised attachments";
    let gen_opts = GenOptions {
        password: Some(password.into()),
        ..with_attachments()
    };
    spydar::fixtures::ios_backup::generate(&root, &gen_opts).unwrap();
    let opts = ScanOptions {
        password: Some(Zeroizing::new(password.to_string())),
        ..Default::default()
    };
    let backup = spydar::evidence::ios_backup_decrypt::open_backup(&root, &opts).unwrap();
    assert!(backup.is_encrypted());
    check(&backup, &opts);
}

/// Without extra attachments the generated backup stays silent (its
/// attachments are listed, not stored), and the generator leaves the
/// committed sample as it was.
#[test]
fn default_backup_has_no_disguised_attachment() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("backup");
    spydar::fixtures::ios_backup::generate(&root, &GenOptions::default()).unwrap();
    let backup = IosBackup::open(&root).unwrap();
    assert!(flagged(&backup, &ScanOptions::default()).is_empty());
}

/// Benign files alone: no alert, and `sms.db`'s records are untouched.
#[test]
fn benign_attachments_are_silent() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("backup");
    let benign: Vec<Attachment> = disguised_attachments()
        .into_iter()
        .filter(|a| !matches!(a.name.as_str(), "image.gif" | "image2.gif" | "photo.png"))
        .collect();
    assert_eq!(benign.len(), 4);
    let opts = GenOptions {
        attachments: benign,
        ..Default::default()
    };
    spydar::fixtures::ios_backup::generate(&root, &opts).unwrap();
    let backup = IosBackup::open(&root).unwrap();
    let records = sms_attachments::run(&Ctx {
        backup: &backup,
        opts: &ScanOptions::default(),
    })
    .unwrap();
    assert_eq!(records.len(), 3 + 4);
    for r in &records {
        assert!(!r.fields.contains_key("actual_type"), "{r:?}");
        assert!(r.alerts.iter().all(|a| a.rule != RULE), "{r:?}");
    }
}

/// The command line: a warning finding naming the rule, never `detected`.
#[test]
fn scan_reports_a_high_warning() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("backup");
    spydar::fixtures::ios_backup::generate(&root, &with_attachments()).unwrap();
    let (_, report) = common::scan(&root, &dir.path().join("out"), &[]);
    let findings: Vec<&serde_json::Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == RULE)
        .collect();
    assert!(!findings.is_empty(), "{report:#}");
    let count: u64 = findings
        .iter()
        .map(|f| f["count"].as_u64().unwrap_or(1))
        .sum();
    assert_eq!(count, 3, "{findings:#?}");
    for f in findings {
        assert_eq!(f["level"], "warning");
        assert_eq!(f["severity"], "high");
        assert_eq!(f["module"], "sms_attachments");
    }
}
