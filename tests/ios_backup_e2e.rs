//! End to end: `spydar scan` on generated iOS backups and on MVT's sample.
//! Planted indicators are detected in the right module, decoys never are;
//! exit codes; a corrupt database fails only its module; the input tree is
//! byte-identical after a scan.

use crate::common;
use common::{scan, tree};
use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use spydar::fixtures::GenOptions;
use spydar::fixtures::ios_backup::{DECOYS, PLANTS, generate};

fn detected(report: &Value) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["level"] == "detected")
        .map(|f| {
            (
                f["module"].as_str().unwrap_or("").to_string(),
                f["observable"]["value"].as_str().unwrap_or("").to_string(),
                f["indicator"]["value"]
                    .as_str()
                    .unwrap_or("")
                    .to_lowercase(),
            )
        })
        .collect()
}

#[test]
fn planted_indicators_are_detected_and_decoys_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("backup");
    generate(&input, &GenOptions::default()).unwrap();
    let before = tree(&input);
    let (code, report) = scan(&input, &dir.path().join("out"), &[]);
    assert_eq!(code, 1, "findings give exit code 1");
    let found = detected(&report);
    for (module, value) in PLANTS {
        let v = value.to_lowercase();
        assert!(
            found
                .iter()
                .any(|(m, obs, ind)| m == module && (ind == &v || obs.to_lowercase().contains(&v))),
            "planted {value} not detected in {module}: {found:#?}"
        );
    }
    // Every detection is a plant of that module: no decoy, nothing else.
    for (m, obs, ind) in &found {
        assert!(
            PLANTS.iter().any(|(pm, pv)| pm == m
                && (obs.to_lowercase().contains(&pv.to_lowercase())
                    || ind.contains(&pv.to_lowercase()))),
            "unexpected detection in {m}: {obs} ({ind})"
        );
        for (_, decoy) in DECOYS {
            assert!(
                obs != decoy && !(decoy.len() > 12 && obs.contains(decoy)),
                "decoy {decoy} reported in {m}"
            );
        }
    }
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    for rule in [
        "datausage.missing_process",
        "datausage.manipulated_process",
        "calendar.quadream_invite",
    ] {
        assert!(rules.contains(&rule), "{rule}: {rules:?}");
    }
    let warnings = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "heuristic");
    assert!(warnings.clone().all(|f| f["level"] != "detected"));
    // Read-only: the same bytes, no SQLite side files.
    let after = tree(&input);
    assert!(before == after, "the scan changed the input");
    assert!(
        !after
            .keys()
            .any(|k| k.ends_with("-wal") || k.ends_with("-shm") || k.ends_with("-journal"))
    );
}

#[test]
fn clean_backup_exits_zero_and_says_what_clean_means() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("backup");
    generate(
        &input,
        &GenOptions {
            plant: false,
            ..Default::default()
        },
    )
    .unwrap();
    let (code, report) = scan(&input, &dir.path().join("out"), &[]);
    assert!(detected(&report).is_empty(), "{:#?}", detected(&report));
    assert_eq!(code, 0);
    let text = report["summary"].to_string();
    assert!(text.contains("not proof"), "{text}");
}

#[test]
fn corrupt_database_is_one_module_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("backup");
    generate(&input, &GenOptions::default()).unwrap();
    let id = spydar::evidence::ios_backup::file_id("HomeDomain", "Library/SMS/sms.db");
    std::fs::write(input.join(&id[..2]).join(&id), vec![0x42u8; 8192]).unwrap();
    let (code, report) = scan(&input, &dir.path().join("out"), &[]);
    assert_eq!(code, 1, "other modules still detect");
    for m in report["modules"].as_array().unwrap() {
        let name = m["name"].as_str().unwrap();
        if name == "sms" || name == "sms_attachments" {
            assert_eq!(m["status"], "error", "{m}");
            assert!(m["error"].as_str().unwrap().contains("sms.db"), "{m}");
        } else {
            assert_eq!(m["status"], "ok", "{m}");
        }
    }
    assert!(
        detected(&report)
            .iter()
            .any(|(m, _, _)| m == "safari_history")
    );
}

#[test]
fn committed_sample_scans() {
    let dir = tempfile::tempdir().unwrap();
    let (code, report) = scan(
        Path::new("testdata/ios_backup"),
        &dir.path().join("out"),
        &[],
    );
    assert_eq!(code, 1);
    assert_eq!(report["device"]["model"], "iPhone13,2");
    assert!(detected(&report).len() >= PLANTS.len());
}

/// MVT's test indicators (tests/artifacts/generate_stix.py), written out.
const MVT_TEST_STIX: &str = r#"{"type":"bundle","id":"bundle--1","objects":[
 {"type":"malware","spec_version":"2.1","id":"malware--1","name":"TestMalware","is_family":false,"description":""},
 {"type":"indicator","spec_version":"2.1","id":"indicator--1","pattern":"[domain-name:value='example.org']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--2","pattern":"[ipv4-addr:value='198.51.100.1']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--3","pattern":"[process:name='Launch']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--4","pattern":"[file:name='/var/foobar/txt']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--5","pattern":"[email-addr:value='foobar@example.org']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--6","pattern":"[android-property:name='sys.foobar']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--7","pattern":"[file:hashes.'SHA-256'='570cd76bf49cf52e0cb347a68bdcf0590b2eaece134e1b1eba7e8d66261bdbe6']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--8","pattern":"[file:hashes.'SHA-1'='da0611a300a9ce9aa7a09d1212f203fca5856794']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"},
 {"type":"indicator","spec_version":"2.1","id":"indicator--9","pattern":"[url:value='http://example.com/thisisbad']","pattern_type":"stix","valid_from":"2021-01-01T00:00:00Z"},
 {"type":"relationship","spec_version":"2.1","id":"relationship--1","relationship_type":"indicates","source_ref":"indicator--1","target_ref":"malware--1"},
 {"type":"relationship","spec_version":"2.1","id":"relationship--2","relationship_type":"indicates","source_ref":"indicator--2","target_ref":"malware--1"},
 {"type":"relationship","spec_version":"2.1","id":"relationship--3","relationship_type":"indicates","source_ref":"indicator--3","target_ref":"malware--1"},
 {"type":"relationship","spec_version":"2.1","id":"relationship--4","relationship_type":"indicates","source_ref":"indicator--4","target_ref":"malware--1"},
 {"type":"relationship","spec_version":"2.1","id":"relationship--5","relationship_type":"indicates","source_ref":"indicator--5","target_ref":"malware--1"},
 {"type":"relationship","spec_version":"2.1","id":"relationship--6","relationship_type":"indicates","source_ref":"indicator--6","target_ref":"malware--1"},
 {"type":"relationship","spec_version":"2.1","id":"relationship--7","relationship_type":"indicates","source_ref":"indicator--7","target_ref":"malware--1"},
 {"type":"relationship","spec_version":"2.1","id":"relationship--8","relationship_type":"indicates","source_ref":"indicator--8","target_ref":"malware--1"},
 {"type":"relationship","spec_version":"2.1","id":"relationship--9","relationship_type":"indicates","source_ref":"indicator--9","target_ref":"malware--1"}
]}"#;

/// MVT 2026.10.26 with its test indicators on its sample: CRITICAL on tcc
/// "Launch", sms (example.org) and whatsapp (example.org); LOW missing
/// process 5; INFO Lockdown Mode. spydar reports the same.
#[test]
#[ignore = "needs ../shared"]
fn same_findings_as_mvt_on_its_sample_backup() {
    let dir = tempfile::tempdir().unwrap();
    let stix = dir.path().join("test.stix2");
    std::fs::write(&stix, MVT_TEST_STIX).unwrap();
    let sample = Path::new("../shared/fixtures/mvt/ios_backup");
    let before = tree(sample);
    let (code, report) = scan(
        sample,
        &dir.path().join("out"),
        &["--iocs", stix.to_str().unwrap(), "--no-bundled-iocs"],
    );
    assert_eq!(code, 1);
    let mut found: Vec<(String, String)> = detected(&report)
        .into_iter()
        .map(|(m, _, i)| (m, i))
        .collect();
    found.sort();
    found.dedup();
    assert_eq!(
        found,
        vec![
            ("sms".to_string(), "example.org".to_string()),
            ("tcc".to_string(), "launch".to_string()),
            ("whatsapp".to_string(), "example.org".to_string()),
        ]
    );
    let rules: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert_eq!(
        rules,
        vec![
            "datausage.missing_process",
            "global_preferences.lockdown_mode"
        ]
    );
    let counts: BTreeMap<&str, u64> = report["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["records"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts["manifest"], 3721);
    assert_eq!(counts["datausage"], 42);
    assert!(tree(sample) == before, "the scan changed MVT's sample");
}
