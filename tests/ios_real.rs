//! Real iOS filesystem-dump inputs from other projects
//! (`../shared/fixtures/real/{plaso-ios-fs,ileapp-ios-fs}`, each with its
//! SOURCE.md): clean devices, so zero `detected`; every module's record
//! count pinned, equal to what `mvt-ios check-fs` (MVT 2.x, run on the same
//! folders with no indicators) writes to `<module>.json`. Ignored without
//! ../shared.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

const REAL: &str = "../shared/fixtures/real";

/// `module → records` of every module that read something (status ok).
fn counts(report: &Value) -> BTreeMap<String, u64> {
    report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "ok")
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_string(),
                m["records"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn check(input: &str, want: &[(&str, u64)], warnings: u64) {
    let input = Path::new(REAL).join(input);
    let before = common::tree(&input);
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = common::scan(&input, &dir.path().join("out"), &[]);
    assert_eq!(code, 0, "{}", report["findings"]);
    assert_eq!(report["summary"]["detected"], 0, "{}", report["findings"]);
    assert_eq!(
        report["summary"]["warning"], warnings,
        "{}",
        report["findings"]
    );
    let got = counts(&report);
    let want: BTreeMap<String, u64> = want.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(got, want, "{}", input.display());
    assert_eq!(before, common::tree(&input), "input untouched");
}

/// MVT: datausage 922, id_status_cache 40, safari_history 25, sms 10,
/// sms_attachments 1 (all equal). `manifest` (15 walked files) is spydar's
/// own listing; MVT's `filesystem.json` (17) lists folders too.
/// `configuration_profiles` reads no profile (none in the dump). MVT also
/// reads `netusage.sqlite` (357 records, its NetUsage module): spydar's
/// `netusage` reads the same 357 (tests/ios_fs_modules.rs). One warning is
/// safari_history's sub-second redirect foxnew.com → www.foxnews.com, which
/// MVT also raises; the other 22 are netusage's missing-process rows (MVT's
/// 22 LOW alerts).
#[test]
#[ignore = "needs ../shared"]
fn plaso_ios_fs() {
    check(
        "plaso-ios-fs/fs",
        &[
            ("configuration_profiles", 0),
            ("datausage", 922),
            ("id_status_cache", 40),
            ("manifest", 15),
            ("netusage", 357),
            ("safari_history", 25),
            ("sms", 10),
            ("sms_attachments", 1),
            ("triangulation_timeline", 1),
        ],
        23,
    );
}

/// MVT: contacts 12, whatsapp 37, whatsapp_contacts 9 (equal).
#[test]
#[ignore = "needs ../shared"]
fn ileapp_josh_ios15() {
    check(
        "ileapp-ios-fs/josh_ios15",
        &[
            ("configuration_profiles", 0),
            ("contacts", 12),
            ("manifest", 22),
            ("triangulation_timeline", 1),
            ("whatsapp", 37),
            ("whatsapp_contacts", 9),
        ],
        0,
    );
}

/// The tables live in the -wal; with it applied they are empty (MVT
/// extracts 0 contacts too).
#[test]
#[ignore = "needs ../shared"]
fn ileapp_mvs_ios_2023() {
    check(
        "ileapp-ios-fs/mvs_ios_2023",
        &[
            ("configuration_profiles", 0),
            ("contacts", 0),
            ("manifest", 16),
            ("triangulation_timeline", 1),
            ("whatsapp_contacts", 0),
        ],
        0,
    );
}

/// MVT: contacts 1 (equal).
#[test]
#[ignore = "needs ../shared"]
fn ileapp_belkasoft_ctf6() {
    check(
        "ileapp-ios-fs/belkasoft_ctf6",
        &[
            ("configuration_profiles", 0),
            ("contacts", 1),
            ("manifest", 9),
            ("triangulation_timeline", 1),
        ],
        0,
    );
}
