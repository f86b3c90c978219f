//! The bundled indicator sets and the matching rules, on real values from the
//! published bundles, each with near-misses that must not match.

use spydar::indicators::matcher::MatchHow;
use spydar::indicators::{IndicatorSet, Matcher};
use spydar::model::{Observable, ObservableType as T};

fn matcher() -> Matcher {
    Matcher::new(IndicatorSet::bundled())
}

fn hits(m: &Matcher, kind: T, value: &str) -> Vec<(String, Option<String>)> {
    m.match_observable(&Observable {
        kind,
        value: value.into(),
    })
    .into_iter()
    .map(|h| {
        let ind = m.indicator(h.indicator);
        (ind.value.clone(), ind.malware.clone())
    })
    .collect()
}

/// Per-bundle, per-key counts as INVENTORY.md states them (parsed from the
/// copy bundled with the indicators, so the two cannot drift apart).
#[test]
fn bundled_counts_agree_with_inventory() {
    let inventory = include_str!("../indicators/INVENTORY.md");
    let keys = [
        "domain-name:value",
        "ipv4-addr:value",
        "process:name",
        "email-addr:value",
        "file:path",
        "file:name",
        "file:hashes.sha256",
        "app:id",
        "app:cert.sha256",
        "configuration-profile:id",
        "android-property:name",
    ];
    let set = IndicatorSet::bundled();
    let mut rows = 0;
    for line in inventory.lines().filter(|l| l.contains(".stix2 |")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (folder, file) = (cells[2], cells[3]);
        let source = set
            .sources
            .iter()
            .find(|s| s.name.ends_with(&format!("{folder}/{file}")))
            .unwrap_or_else(|| panic!("bundle {folder}/{file} not embedded"));
        let num = |c: &str| {
            c.split_whitespace()
                .next()
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
        };
        assert_eq!(source.indicators, num(cells[6]), "{file}: indicators");
        for (k, key) in keys.iter().enumerate() {
            let got = source.per_key.get(*key).copied().unwrap_or(0);
            assert_eq!(got, num(cells[7 + k]), "{file}: {key}");
        }
        assert!(
            source.skipped.is_empty(),
            "{file}: skipped {:?}",
            source.skipped
        );
        assert_eq!(source.sha256.len(), 64);
        rows += 1;
    }
    assert_eq!(rows, 17);
    assert_eq!(set.total(), 5713 + 5598);
}

/// Echap's stalkerware set: its certificate key (not a table column), and
/// the descriptions spydar's levels read (INVENTORY.md, stalkerware/README.md).
#[test]
fn stalkerware_set_keeps_its_descriptions() {
    let set = IndicatorSet::bundled();
    let src = set
        .sources
        .iter()
        .find(|s| s.name == "stalkerware/stalkerware.stix2")
        .expect("the stalkerware set is bundled");
    assert_eq!(src.indicators, 5598);
    assert_eq!(src.per_key.get("app:cert.sha1"), Some(&485));
    // 174 malware objects: WiseMo and FindMyKids are listed both ways.
    assert_eq!(src.malware.len(), 172);
    assert_eq!(src.date.as_deref(), Some("2026-06-21"));
    let mine: Vec<_> = set
        .indicators
        .iter()
        .filter(|i| i.source == src.name)
        .collect();
    let count = |pred: &dyn Fn(&spydar::indicators::Described) -> bool| {
        mine.iter()
            .filter(|i| set.described(i).is_some_and(pred))
            .count()
    };
    assert_eq!(
        count(&|d| d.indicator.as_deref() == Some("Vendor website")),
        538
    );
    assert_eq!(
        count(&|d| d.indicator.as_deref() == Some("Command-and-control domain")),
        989
    );
    assert_eq!(
        count(&|d| d.indicator.as_deref() == Some("Distribution site")),
        36
    );
    assert_eq!(
        count(&|d| d.malware.as_deref() == Some("Watchware application")),
        53 + 71 + 2 + 44
    );
    assert_eq!(count(&|_| true), 5598);
    // Every other bundle is dated too.
    assert!(
        set.sources.iter().all(|s| s.date.is_some()),
        "a source without a date"
    );
}

#[test]
fn every_indicator_knows_its_malware() {
    let set = IndicatorSet::bundled();
    assert!(
        set.indicators.iter().all(|i| i.malware.is_some()),
        "an indicator without malware name"
    );
    let pegasus = set
        .indicators
        .iter()
        .filter(|i| i.malware.as_deref() == Some("Pegasus"))
        .count();
    assert_eq!(pegasus, 1549);
}

#[test]
fn domains_label_wise() {
    let m = matcher();
    let pegasus = Some("Pegasus".to_string());
    for positive in [
        "24-7clinic.com",
        "news.24-7clinic.com",
        "A.B.24-7CLINIC.COM.",
        "https://news.24-7clinic.com/x",
    ] {
        let kind = if positive.contains("://") {
            T::Url
        } else {
            T::Domain
        };
        assert!(
            hits(&m, kind, positive)
                .iter()
                .any(|(v, mw)| v == "24-7clinic.com" && *mw == pegasus),
            "{positive}"
        );
    }
    for negative in [
        "not24-7clinic.com",
        "24-7clinic.com.example.org",
        "24-7clinic.co",
        "clinic.com",
        "24-7clinic",
    ] {
        assert!(
            hits(&m, T::Domain, negative).is_empty(),
            "{negative} must not match"
        );
    }
    // MVT's substring fallback matches this; spydar does not.
    assert!(hits(&m, T::Url, "https://not24-7clinic.com.evil.zzzz/").is_empty());
}

#[test]
fn ips_stored_as_domains_match_as_ips() {
    let set = IndicatorSet::bundled();
    let ip = set
        .indicators
        .iter()
        .find(|i| i.kind == T::Ipv4 && i.pattern.starts_with("[domain-name"))
        .expect("NoviSpy stores IPs as domains")
        .value
        .clone();
    let m = Matcher::new(set);
    assert_eq!(hits(&m, T::Ipv4, &ip).len(), 1);
    assert_eq!(hits(&m, T::Domain, &ip).len(), 1);
    assert_eq!(hits(&m, T::Url, &format!("http://{ip}:8080/a")).len(), 1);
    let mut near: Vec<&str> = ip.split('.').collect();
    let last = format!("{}9", near[3]);
    near[3] = &last;
    assert!(hits(&m, T::Ipv4, &near.join(".")).is_empty());
}

#[test]
fn domain_with_path_matches_urls_under_it() {
    let m = matcher();
    assert_eq!(hits(&m, T::Url, "https://fgr1w2gnsdvsb.xyz/x").len(), 1);
    assert_eq!(
        hits(&m, T::Url, "https://fgr1w2gnsdvsb.xyz/x?id=3").len(),
        1
    );
    assert!(hits(&m, T::Url, "https://fgr1w2gnsdvsb.xyz/xyz").is_empty());
    assert!(hits(&m, T::Domain, "fgr1w2gnsdvsb.xyz").is_empty());
}

#[test]
fn processes_exact_truncated_and_by_path() {
    let m = matcher();
    assert_eq!(
        hits(&m, T::Process, "roleaccountd")[0].1.as_deref(),
        Some("Pegasus")
    );
    assert_eq!(
        hits(&m, T::Process, "/private/var/db/roleaccountd").len(),
        1
    );
    // iOS truncates to 15/16 characters.
    let truncated = m.match_observable(&Observable {
        kind: T::Process,
        value: "CommsCenterRoot".into(),
    });
    assert_eq!(truncated.len(), 1);
    assert_eq!(truncated[0].how, MatchHow::TruncatedProcess);
    assert_eq!(hits(&m, T::Process, "CommsCenterRootH").len(), 1);
    for negative in [
        "roleaccountdx",
        "Roleaccountd",
        "roleaccount",
        "CommsCenter",
        "CommsCenterRo",
        "xroleaccountd",
    ] {
        assert!(hits(&m, T::Process, negative).is_empty(), "{negative}");
    }
}

#[test]
fn file_paths_folders_relative_and_names() {
    let m = matcher();
    assert!(!hits(&m, T::FilePath, "/private/var/tmp/hooker").is_empty());
    assert!(
        !hits(
            &m,
            T::FilePath,
            "/private/var/db/com.apple.xpc.roleaccountd.staging/PlugIns/fud.appex/fud"
        )
        .is_empty()
    );
    assert!(
        !hits(
            &m,
            T::FilePath,
            "/private/var/db/com.apple.xpc.roleaccountd.staging/PlugIns/fud.appex"
        )
        .is_empty()
    );
    assert!(!hits(&m, T::FilePath, "/tmp/l/x/y").is_empty());
    assert!(hits(&m, T::FilePath, "/tmp/lx").is_empty());
    assert!(
        hits(
            &m,
            T::FilePath,
            "/private/var/db/com.apple.xpc.roleaccountd.staging/PlugIns/fud.appexx"
        )
        .is_empty()
    );
    assert!(hits(&m, T::FilePath, "/private/var/tmp/hookerX").is_empty());
    // A relative indicator matches as a path suffix.
    assert!(
        !hits(
            &m,
            T::FilePath,
            "/private/var/root/Library/Preferences/com.apple.photolibraryd.plist"
        )
        .is_empty()
    );
    assert!(!hits(&m, T::FileName, "rce_loader.js").is_empty());
    assert!(!hits(&m, T::FilePath, "/var/www/rce_loader.js").is_empty());
    assert!(hits(&m, T::FileName, "rce_loader.json").is_empty());
}

#[test]
fn case_insensitive_ids_hashes_emails() {
    let m = matcher();
    let set = m.set();
    let sha = set
        .indicators
        .iter()
        .find(|i| i.kind == T::Sha256)
        .unwrap()
        .value
        .clone();
    assert_eq!(hits(&m, T::Sha256, &sha.to_uppercase()).len(), 1);
    let mut near = sha.clone();
    near.replace_range(0..1, if sha.starts_with('0') { "1" } else { "0" });
    assert!(hits(&m, T::Sha256, &near).is_empty());
    assert_eq!(hits(&m, T::AppId, "com.client.appA").len(), 1);
    assert_eq!(hits(&m, T::AppId, "COM.CLIENT.APPA").len(), 1);
    assert!(hits(&m, T::AppId, "com.client.app").is_empty());
    assert_eq!(
        hits(&m, T::ProfileId, "76dab334-7e17-475d-a5d6-0794eb5818a5").len(),
        2,
        "cytrox and predator"
    );
    // MVT's reverse-substring rule matches a fragment; spydar compares whole ids.
    assert!(hits(&m, T::ProfileId, "76DAB334").is_empty());
    assert_eq!(hits(&m, T::AndroidProperty, "sys.brand.note").len(), 1);
    assert!(hits(&m, T::AndroidProperty, "sys.brand.notez").is_empty());
}

#[test]
fn free_text_finds_every_mention_at_token_boundaries() {
    let m = matcher();
    // A process name counts only where the text marks a process (here the
    // `NAME[pid]:` log prefix); issue 9: a bare word in prose never does.
    let text = "visit https://news.24-7clinic.com/x now; then roleaccountd[412]: ran from \
                /private/var/tmp/hooker and profile 76DAB334-7E17-475D-A5D6-0794EB5818A5.";
    let found: Vec<(T, String)> = m
        .match_observable(&Observable {
            kind: T::Text,
            value: text.into(),
        })
        .into_iter()
        .map(|h| (h.found.kind, h.found.value))
        .collect();
    assert!(
        found.contains(&(T::Domain, "news.24-7clinic.com".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&(T::Process, "roleaccountd".into())),
        "{found:?}"
    );
    assert!(
        found.contains(&(T::FilePath, "/private/var/tmp/hooker".into())),
        "{found:?}"
    );
    assert!(found.iter().any(|(k, _)| *k == T::ProfileId), "{found:?}");

    for decoy in [
        "see not24-7clinic.com today",
        "24-7clinic.com.example.org is fine",
        "xroleaccountd and roleaccountdx and Roleaccountd",
        "then roleaccountd ran from the staging folder",
        "com.apple.xroleaccountd.plist",
        "/private/var/tmp/hookers",
        "a file at /x/private/var/tmp/hooker",
        "bh is short",
        "sha 0076DAB334-7E17-475D-A5D6-0794EB5818A5",
    ] {
        let h = m.match_observable(&Observable {
            kind: T::Text,
            value: decoy.into(),
        });
        assert!(
            h.is_empty(),
            "{decoy}: {:?}",
            h.iter().map(|h| &h.found).collect::<Vec<_>>()
        );
    }
    // Underscores separate tokens, as in WebKit folder names.
    let webkit = m.match_observable(&Observable {
        kind: T::Text,
        value: "https_news.24-7clinic.com_0.localstorage".into(),
    });
    assert_eq!(webkit.len(), 1);
}

#[test]
fn text_sweep_reports_lines() {
    use spydar::artifacts::TextSweep;
    let m = matcher();
    let text = b"ok line\nsecond with 24-7clinic.com here\r\nthird\nfourth roleaccountd and 24-7clinic.com\nlast";
    let lines = m.flagged_lines(text);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].line_no, 2);
    assert_eq!(
        &text[lines[0].range.clone()],
        b"second with 24-7clinic.com here"
    );
    assert_eq!(lines[1].line_no, 4);
    assert!(m.flagged_lines(b"nothing to see\nhere").is_empty());
}

#[test]
fn bad_stix_inputs_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let notjson = dir.path().join("x.stix2");
    std::fs::write(&notjson, "this is not json").unwrap();
    let err = IndicatorSet::default()
        .add_path(&notjson)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("x.stix2") && err.contains("not a STIX2 JSON bundle"),
        "{err}"
    );

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(
        IndicatorSet::default()
            .add_path(&empty)
            .unwrap_err()
            .to_string()
            .contains("no *.stix2")
    );

    let odd = dir.path().join("odd.json");
    std::fs::write(
        &odd,
        r#"{"type":"bundle","objects":[
        {"type":"indicator","id":"indicator--1","pattern":"[domain-name:value = 'a.org' AND domain-name:value = 'b.org']"},
        {"type":"indicator","id":"indicator--2","pattern":"[x-unknown:value = 'zz']"},
        {"type":"indicator","id":"indicator--3","pattern":"[url:value = 'https://ok.example/a?b=c']"}]}"#,
    )
    .unwrap();
    let mut set = IndicatorSet::default();
    assert_eq!(set.add_path(&odd).unwrap(), 1);
    assert_eq!(set.skipped(), 2);
}

/// Every bundled indicator of 5 bytes or more is found in text at every
/// alignment and case, whatever table of the prefilter serves it.
#[test]
fn free_text_finds_every_bundled_indicator() {
    use spydar::artifacts::TextSweep;
    let m = matcher();
    let mut missed = Vec::new();
    for (i, ind) in m.indicators().iter().enumerate() {
        if ind.value.len() < spydar::indicators::matcher::MIN_TEXT_LEN {
            continue;
        }
        let pad = " ".repeat(i % 7);
        // Process and file names are searched only in a process position
        // (issue 9), here a path's last component.
        let text = match ind.kind {
            T::Process | T::FileName => {
                format!("2024-05-01 kernel: {pad}x /usr/libexec/{} y\n", ind.value)
            }
            _ => format!("2024-05-01 kernel: {pad}x {} y\n", ind.value),
        };
        if m.flagged_lines(text.as_bytes()).len() != 1 {
            missed.push(ind.value.clone());
        }
    }
    assert!(
        missed.is_empty(),
        "{} missed: {:?}",
        missed.len(),
        &missed[..missed.len().min(10)]
    );
    assert_eq!(m.flagged_lines(b"visit apiapple.com today").len(), 1);
    assert!(
        m.flagged_lines(b"visit apple.com and www.apple.com today")
            .is_empty()
    );
}
