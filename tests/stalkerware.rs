//! Echap's stalkerware set on a generated androidqf acquisition: a
//! stalkerware package by its id, by its certificate's SHA-1 only and by its
//! APK's SHA-256 only is `detected`; a watchware app and a visit to a
//! vendor's public site are warnings that say why; decoys stay silent. Each
//! finding names the application.

use std::path::Path;
use std::sync::Arc;

use spydar::artifacts::ScanOptions;
use spydar::fixtures::GenOptions;
use spydar::fixtures::stalkerware::{decoys, generate_androidqf, generate_ios_backup, planted};
use spydar::indicators::{IndicatorSet, Matcher};
use spydar::model::{Finding, FindingKind, Level, ObservableType as T};
use spydar::scan::{AllowList, scan_device};

fn scan(input: &Path) -> Vec<Finding> {
    let matcher = Arc::new(Matcher::new(IndicatorSet::bundled()));
    scan_device(
        input,
        None,
        &matcher,
        &AllowList::default(),
        ScanOptions::default(),
        None,
        &|_| None,
    )
    .expect("the generated acquisition scans")
    .report
    .findings
}

type Generator = fn(&Path, &GenOptions) -> std::io::Result<()>;

/// Generates an input into a temporary folder (as `acq` in it) and scans it.
fn generated_by(generate: Generator, plant: bool) -> (tempfile::TempDir, Vec<Finding>) {
    let tmp = tempfile::tempdir().unwrap();
    let acq = tmp.path().join("acq");
    let opts = GenOptions {
        plant,
        ..GenOptions::default()
    };
    generate(&acq, &opts).unwrap();
    let findings = scan(&acq);
    (tmp, findings)
}

fn generated(plant: bool) -> (tempfile::TempDir, Vec<Finding>) {
    generated_by(generate_androidqf, plant)
}

/// The indicator findings of `malware`.
fn of<'a>(findings: &'a [Finding], malware: &str) -> Vec<&'a Finding> {
    findings
        .iter()
        .filter(|f| {
            f.kind == FindingKind::Indicator
                && f.indicator.as_ref().and_then(|i| i.malware.as_deref()) == Some(malware)
        })
        .collect()
}

fn one<'a>(findings: &'a [Finding], malware: &str, kind: T) -> &'a Finding {
    let fs: Vec<_> = of(findings, malware)
        .into_iter()
        .filter(|f| f.indicator.as_ref().is_some_and(|i| i.kind == kind))
        .collect();
    assert_eq!(fs.len(), 1, "{malware} {kind}: {fs:#?}");
    fs[0]
}

fn stalkerware_findings(findings: &[Finding]) -> Vec<&Finding> {
    findings
        .iter()
        .filter(|f| {
            f.indicator
                .as_ref()
                .is_some_and(|i| i.source == "stalkerware/stalkerware.stix2")
        })
        .collect()
}

#[test]
fn stalkerware_by_id_cert_and_hash_is_detected_and_named() {
    let (_tmp, findings) = generated(true);

    let by_id = one(&findings, planted::APP_ID_MALWARE, T::AppId);
    assert_eq!(by_id.level, Level::Detected);
    assert_eq!(by_id.module, "aqf_packages");
    assert_eq!(by_id.observable.as_ref().unwrap().value, planted::APP_ID);
    assert!(
        by_id.message.contains("FlexiSpy is stalkerware"),
        "{}",
        by_id.message
    );
    assert_eq!(by_id.rule, None);

    let by_cert = one(&findings, planted::CERT_MALWARE, T::CertHash);
    assert_eq!(by_cert.level, Level::Detected);
    assert_eq!(by_cert.module, "aqf_packages");
    assert_eq!(
        by_cert.record.get("package_name").and_then(|v| v.as_str()),
        Some(planted::CERT_PACKAGE)
    );
    assert!(by_cert.message.contains("mSpy"), "{}", by_cert.message);

    let by_hash = one(&findings, planted::APK_MALWARE, T::Sha256);
    assert_eq!(by_hash.level, Level::Detected);
    assert_eq!(
        by_hash.record.get("package_name").and_then(|v| v.as_str()),
        Some(planted::APK_PACKAGE)
    );
    assert!(
        by_hash.message.contains("TheTruthSpy"),
        "{}",
        by_hash.message
    );
}

#[test]
fn watchware_and_vendor_sites_are_warnings_that_say_why() {
    let (_tmp, findings) = generated(true);

    let watch = one(&findings, planted::WATCHWARE_MALWARE, T::AppId);
    assert_eq!(watch.level, Level::Warning);
    assert_eq!(watch.rule.as_deref(), Some("stalkerware.watchware"));
    assert_eq!(
        watch.observable.as_ref().unwrap().value,
        planted::WATCHWARE_APP_ID
    );
    for words in [
        "Life360 is watchware",
        "parental control",
        "legitimate",
        "abused",
    ] {
        assert!(watch.message.contains(words), "{words}: {}", watch.message);
    }

    let site = one(&findings, planted::APP_ID_MALWARE, T::Domain);
    assert_eq!(site.level, Level::Warning);
    assert_eq!(site.rule.as_deref(), Some("stalkerware.vendor_website"));
    assert_eq!(site.module, "logcat");
    assert_eq!(
        site.indicator.as_ref().unwrap().value,
        planted::VENDOR_DOMAIN
    );
    assert!(
        site.message
            .contains("the device visited the vendor's public site"),
        "{}",
        site.message
    );
    // The rule is in the catalogue, so `--allow rule:ID` can name it.
    assert!(spydar::rules::find("stalkerware.vendor_website").is_some());

    // Nothing else from the set: exactly the five planted findings.
    let mut got: Vec<(String, String)> = stalkerware_findings(&findings)
        .iter()
        .map(|f| {
            (
                f.indicator.as_ref().unwrap().malware.clone().unwrap(),
                f.level.as_str().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("FlexiSpy", "detected"),
            ("FlexiSpy", "warning"),
            ("Life360", "warning"),
            ("TheTruthSpy", "detected"),
            ("mSpy", "detected"),
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
}

#[test]
fn decoys_alone_stay_silent() {
    let (tmp, findings) = generated(false);
    assert!(
        stalkerware_findings(&findings).is_empty(),
        "{:#?}",
        stalkerware_findings(&findings)
    );
    assert!(
        findings.iter().all(|f| f.level != Level::Detected),
        "{findings:#?}"
    );
    // The decoys are really there, so silence means something.
    let acq = tmp.path().join("acq");
    let packages = std::fs::read_to_string(acq.join("packages.json")).unwrap();
    for d in decoys::APP_IDS {
        assert!(packages.contains(&format!("\"{d}\"")), "{d}");
    }
    assert!(packages.contains(decoys::CERT_SHA1));
    assert!(packages.contains(decoys::APK_SHA256));
    // A certificate's SHA-1 as a file hash, and an APK hash as a
    // certificate hash, are not those indicators.
    assert!(packages.contains(planted::CERT_SHA1));
    assert!(packages.contains(planted::APK_SHA256));
    let logcat = std::fs::read_to_string(acq.join("logcat.txt")).unwrap();
    for d in decoys::DOMAINS {
        assert!(logcat.contains(d), "{d}");
    }
    assert!(!logcat.contains(planted::VENDOR_URL));
}

/// The vendor-site visit in Safari's history (Android acquisitions hold no
/// browser history): a warning from `safari_history`; decoy hosts silent.
#[test]
fn a_vendor_site_in_safari_history_is_a_warning() {
    for plant in [true, false] {
        let (_tmp, findings) = generated_by(generate_ios_backup, plant);
        let ours = stalkerware_findings(&findings);
        if !plant {
            assert!(ours.is_empty(), "{ours:#?}");
            continue;
        }
        let modules: Vec<&str> = ours.iter().map(|f| f.module.as_str()).collect();
        assert!(modules.contains(&"safari_history"), "{ours:#?}");
        for f in ours {
            assert_eq!(f.level, Level::Warning, "{f:#?}");
            assert_eq!(f.rule.as_deref(), Some("stalkerware.vendor_website"));
            assert!(f.message.contains("FlexiSpy"), "{}", f.message);
        }
    }
}

/// The planted values are in the bundled set, under the application named.
#[test]
fn planted_values_are_echaps() {
    let set = IndicatorSet::bundled();
    let has = |kind: T, value: &str, malware: &str| {
        set.indicators.iter().any(|i| {
            i.kind == kind
                && i.value == value.to_ascii_lowercase()
                && i.malware.as_deref() == Some(malware)
                && i.source == "stalkerware/stalkerware.stix2"
        })
    };
    assert!(has(T::AppId, planted::APP_ID, planted::APP_ID_MALWARE));
    assert!(has(T::CertHash, planted::CERT_SHA1, planted::CERT_MALWARE));
    assert!(has(T::Sha256, planted::APK_SHA256, planted::APK_MALWARE));
    assert!(has(
        T::AppId,
        planted::WATCHWARE_APP_ID,
        planted::WATCHWARE_MALWARE
    ));
    assert!(has(
        T::Domain,
        planted::VENDOR_DOMAIN,
        planted::APP_ID_MALWARE
    ));
    let site = set
        .indicators
        .iter()
        .find(|i| i.value == planted::VENDOR_DOMAIN)
        .unwrap();
    assert_eq!(
        set.described(site).and_then(|d| d.indicator.as_deref()),
        Some("Vendor website")
    );
    assert!(!set.indicators.iter().any(|i| {
        i.value == decoys::CERT_SHA1.to_ascii_lowercase() || i.value == decoys::APK_SHA256
    }));
}

/// `indicators check` says which matches are warnings, and why.
#[test]
fn indicators_check_names_the_warning_rule() {
    let check = |value: &str| {
        let out = assert_cmd::Command::cargo_bin("spydar")
            .unwrap()
            .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
            .env("SPYDAR_NO_MVT_INDICATORS", "1")
            .args(["indicators", "check", value])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{value}");
        String::from_utf8(out.stdout).unwrap()
    };
    let watch = check(planted::WATCHWARE_APP_ID);
    assert!(
        watch.contains("Life360") && watch.contains("warning (stalkerware.watchware)"),
        "{watch}"
    );
    let site = check(planted::VENDOR_DOMAIN);
    assert!(
        site.contains("warning (stalkerware.vendor_website)"),
        "{site}"
    );
    let app = check(planted::APP_ID);
    assert!(
        app.contains("FlexiSpy") && !app.contains("warning"),
        "{app}"
    );
}
