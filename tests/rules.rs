//! The rule catalogue as users see it: `spydar rules list`, README's rule
//! table, the rules the golden reports name, and `--allow rule:ID` checked
//! against the catalogue.
//!
//! README's table is generated from `src/rules.rs`; after adding a rule,
//! `SPYDAR_BLESS=1 cargo test --test integration rules::` rewrites it.

use std::path::Path;

use assert_cmd::cargo::cargo_bin_cmd;
use predicates::prelude::*;
use spydar::rules::ALL;

const TABLE_START: &str = "<!-- rules table: generated from src/rules.rs by `SPYDAR_BLESS=1 cargo test --test integration rules::` -->";
const TABLE_END: &str = "<!-- end of rules table -->";

fn spydar() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("spydar");
    cmd.env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests");
    cmd
}

/// README's table: method (the rule id) — source — what it catches (the
/// title) — level. One rule, one row.
fn table() -> String {
    let mut t = String::from("| method | source | what it catches | level |\n|---|---|---|---|\n");
    for r in ALL {
        let s = spydar::rules::source(r);
        let source = match (s.url, s.why) {
            (Some(url), _) => format!("[{}]({url})", s.name),
            (None, Some(why)) => format!("{}: {why}", s.name),
            (None, None) => s.name,
        };
        let level = match r.level.as_str() {
            "info" => "info".to_string(),
            level => format!("{level} ({})", r.severity.as_str()),
        };
        t.push_str(&format!(
            "| `{}` | {source} | {} | {level} |\n",
            r.id, r.title
        ));
    }
    t
}

#[test]
fn readme_rule_table_is_the_catalogue() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let start = readme
        .find(TABLE_START)
        .expect("README has the rules table start marker")
        + TABLE_START.len()
        + 1;
    let end = readme
        .find(TABLE_END)
        .expect("README has the rules table end marker");
    let want = table();
    if std::env::var_os("SPYDAR_BLESS").is_some() {
        let fresh = format!("{}{want}{}", &readme[..start], &readme[end..]);
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    assert_eq!(
        &readme[start..end],
        want,
        "README's rule table differs from src/rules.rs (SPYDAR_BLESS=1 cargo test --test integration rules:: rewrites it)"
    );
}

#[test]
fn rules_list_prints_every_rule() {
    let out = spydar().args(["rules", "list"]).assert().code(0);
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), ALL.len());
    for (line, r) in lines.iter().zip(ALL) {
        let want = format!(
            "{}\t{}\t{}\t{}\t{}",
            r.id,
            r.level.as_str(),
            r.severity.as_str(),
            r.title,
            spydar::rules::source(r).name
        );
        assert_eq!(*line, want);
    }
}

#[test]
fn rules_list_json_is_the_whole_catalogue() {
    let out = spydar().args(["rules", "list", "--json"]).assert().code(0);
    let got: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let rules = got.as_array().unwrap();
    assert_eq!(rules.len(), ALL.len());
    for (j, r) in rules.iter().zip(ALL) {
        assert_eq!(j["id"], r.id);
        assert_eq!(j["level"], r.level.as_str());
        assert_eq!(j["severity"], r.severity.as_str());
        assert_eq!(j["title"], r.title);
        assert_eq!(j["explanation"], r.explanation);
        assert_eq!(j["reference"], r.reference);
        assert_eq!(j.as_object().unwrap().len(), 6);
    }
}

/// Every heuristic finding in the golden reports (outputs pinned before
/// the catalogue existed) names a catalogue rule, at its level and severity.
#[test]
fn golden_reports_name_catalogue_rules() {
    fn walk(v: &serde_json::Value, file: &Path, seen: &mut usize) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(id) = m.get("rule").and_then(|r| r.as_str()) {
                    let r = spydar::rules::find(id).unwrap_or_else(|| {
                        panic!("{}: rule {id} not in the catalogue", file.display())
                    });
                    assert_eq!(m["level"], r.level.as_str(), "{id}");
                    assert_eq!(m["severity"], r.severity.as_str(), "{id}");
                    *seen += 1;
                }
                m.values().for_each(|x| walk(x, file, seen));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, file, seen)),
            _ => {}
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut seen = 0;
    for e in walkdir::WalkDir::new(&root)
        .into_iter()
        .filter_map(Result::ok)
    {
        if e.path().extension().is_some_and(|x| x == "json") {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
            walk(&v, e.path(), &mut seen);
        }
    }
    assert!(
        seen > 50,
        "only {seen} heuristic findings in the golden reports"
    );
}

#[test]
fn allow_file_with_an_unknown_rule_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let allow = dir.path().join("allow.txt");
    std::fs::write(
        &allow,
        "# reviewed\nrule:shutdown_log.sticky_process\nrule:shutdown_log.stiky_process  # typo\n",
    )
    .unwrap();
    let out = spydar()
        .arg("recheck")
        .arg(dir.path())
        .arg("--allow")
        .arg(&allow)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "allow.txt:3: unknown rule \"shutdown_log.stiky_process\"",
        ));
    let stderr = String::from_utf8(out.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // Names the one id, lists no others, and the file once.
    assert!(!stderr.contains("shutdown_log.sticky_process"), "{stderr}");
    assert_eq!(stderr.matches("allow.txt").count(), 1, "{stderr}");
}

/// Every rule names its source in the catalogue, `rules list` and README.
#[test]
fn every_rule_has_a_source() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for r in ALL {
        let s = spydar::rules::source(r);
        assert!(!r.reference.trim().is_empty(), "{}", r.id);
        assert!(!s.name.trim().is_empty(), "{}", r.id);
        assert!(s.url.is_some() || s.why.is_some(), "{}", r.id);
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", r.id)))
            .unwrap_or_else(|| panic!("{}: no row in README", r.id));
        assert!(row.contains(&s.name), "{row}");
    }
}
