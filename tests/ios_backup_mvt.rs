//! spydar on MVT's own sample backup: the same record counts per module as
//! MVT 2026.10.26 (`mvt-ios check-backup`), and the input left untouched.

use std::collections::BTreeMap;
use std::path::Path;

use spydar::artifacts::ScanOptions;
use spydar::artifacts::ios::scan_backup;
use spydar::model::ModuleStatus;

const SAMPLE: &str = "../shared/fixtures/mvt/ios_backup";

/// MVT's counts (reference/mvt-ios.md §6.4); modules absent here produce
/// nothing on the sample in MVT either.
const MVT_COUNTS: [(&str, usize); 11] = [
    ("manifest", 3721),
    ("datausage", 42),
    ("global_preferences", 16),
    ("tcc", 11),
    ("whatsapp", 6),
    ("interaction_c", 3),
    ("webkit_resource_load_statistics", 2),
    ("whatsapp_contacts", 2),
    ("calendar", 1),
    ("safari_browser_state", 1),
    ("sms", 1),
];

#[test]
#[ignore = "needs ../shared"]
fn record_counts_match_mvt_on_its_sample_backup() {
    let scan = scan_backup(Path::new(SAMPLE), &ScanOptions::default()).unwrap();
    let counts: BTreeMap<&str, usize> = scan
        .modules
        .iter()
        .map(|m| (m.name.as_str(), m.records.len()))
        .collect();
    for (name, want) in MVT_COUNTS {
        assert_eq!(counts.get(name).copied(), Some(want), "{name}: {counts:?}");
    }
    // Every other module yields nothing on the sample, as in MVT (backup_info
    // is a dict there, one record here; triangulation_timeline, not an MVT
    // module, gives its summary record only: no window).
    assert_eq!(counts.get("triangulation_timeline"), Some(&1));
    for m in &scan.modules {
        assert_ne!(m.status, ModuleStatus::Error, "{}: {:?}", m.name, m.error);
        let own = ["backup_info", "triangulation_timeline"];
        if !MVT_COUNTS.iter().any(|(n, _)| *n == m.name) && !own.contains(&m.name.as_str()) {
            assert!(
                m.records.is_empty(),
                "{} has {} records",
                m.name,
                m.records.len()
            );
        }
    }
    assert_eq!(scan.device.build.as_deref(), Some("18C66"));
    assert_eq!(scan.device.model.as_deref(), Some("iPhone9,3"));
}

#[test]
#[ignore = "needs ../shared"]
fn sample_heuristics_and_observables_match_mvt() {
    let scan = scan_backup(Path::new(SAMPLE), &ScanOptions::default()).unwrap();
    let module = |n: &str| scan.modules.iter().find(|m| m.name == n).unwrap();
    // Missing process 5 (LOW in MVT) and Lockdown Mode (INFO).
    let missing: Vec<_> = module("datausage")
        .records
        .iter()
        .flat_map(|r| r.alerts.iter())
        .filter(|a| a.rule == "datausage.missing_process")
        .collect();
    assert_eq!(missing.len(), 1);
    assert!(
        missing[0].message.starts_with("Missing process 5."),
        "{}",
        missing[0].message
    );
    let lockdown: Vec<_> = module("global_preferences")
        .records
        .iter()
        .flat_map(|r| r.alerts.iter())
        .collect();
    assert_eq!(lockdown.len(), 1);
    assert_eq!(lockdown[0].message, "Lockdown mode enabled");
    // The values MVT's test indicators hit: process "Launch" (tcc), the SMS
    // link, the WhatsApp link.
    let has = |m: &str, v: &str| {
        module(m)
            .records
            .iter()
            .any(|r| r.observables.iter().any(|o| o.value == v))
    };
    assert!(has("tcc", "Launch"));
    assert!(has("sms", "https://badbadbad.example.org/"));
    assert!(has("whatsapp", "https://example.org/news"));
    assert!(has("datausage", "CumulativeUsageTracker"));
    assert!(has(
        "safari_browser_state",
        "https://en.wikipedia.org/wiki/NSO_Group"
    ));
    assert!(has("manifest", "com.apple.CoreBrightness.plist"));
    assert!(has("calendar", "user@example.org"));
}
