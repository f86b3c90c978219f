//! README's module tables list exactly the modules of the registries
//! (`spydar::artifacts::modules`, which `spydar modules list` prints).
//!
//! The table between `<!-- modules:begin` and `<!-- modules:end -->` is
//! generated: one row per module and what it reads, with the input kinds
//! that run it. After adding or renaming a module, regenerate it with
//! `SPYDAR_BLESS=1 cargo test --test integration module_table::` and review the diff.
//! The hand-written sysdiagnose table must name every sysdiagnose module.

use std::collections::BTreeSet;
use std::path::Path;

use spydar::artifacts::{INPUT_KINDS, modules};

const BEGIN: &str = "<!-- modules:begin";
const END: &str = "<!-- modules:end -->";

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The generated table: rows in registry order (iOS backup first), one per
/// (module, artifact), with every input kind that runs it.
fn generated_table() -> String {
    let mut rows: Vec<(&str, String, Vec<&str>)> = Vec::new();
    for kind in INPUT_KINDS {
        for m in modules(kind) {
            match rows
                .iter_mut()
                .find(|(name, artifact, _)| *name == m.module && *artifact == m.artifact)
            {
                Some(row) => row.2.push(kind.as_str()),
                None => rows.push((m.module, m.artifact, vec![kind.as_str()])),
            }
        }
    }
    let mut s = String::from("| module | input kinds | reads |\n|---|---|---|\n");
    for (name, artifact, kinds) in rows {
        s.push_str(&format!(
            "| `{name}` | {} | `{artifact}` |\n",
            kinds.join(", ")
        ));
    }
    s
}

/// The text between the markers (the line after BEGIN up to END).
fn section(text: &str) -> Option<(usize, usize)> {
    let begin = text.find(BEGIN)?;
    let start = begin + text[begin..].find('\n')? + 1;
    let end = start + text[start..].find(END)?;
    Some((start, end))
}

#[test]
fn readme_module_table_is_the_registry() {
    let text = readme();
    let (start, end) = section(&text).expect("README has a modules:begin/end section");
    let want = generated_table();
    if text[start..end] == want {
        return;
    }
    if std::env::var_os("SPYDAR_BLESS").is_some() {
        let updated = format!("{}{}{}", &text[..start], want, &text[end..]);
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"),
            updated,
        )
        .unwrap();
        return;
    }
    let got: BTreeSet<&str> = text[start..end].lines().collect();
    let wanted: BTreeSet<&str> = want.lines().collect();
    panic!(
        "README's module table differs from the registries (SPYDAR_BLESS=1 cargo test --test integration module_table:: rewrites it)\n  missing: {:?}\n  extra:   {:?}",
        wanted.difference(&got).collect::<Vec<_>>(),
        got.difference(&wanted).collect::<Vec<_>>()
    );
}

/// Module names in backticks in the first column of the table whose header
/// is `header`, after `heading`.
fn first_column_names(text: &str, heading: &str, header: &str) -> BTreeSet<String> {
    let at = text.find(heading).expect("heading");
    let table = &text[at + text[at..].find(header).expect("table header")..];
    table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .flat_map(|l| {
            let first = l.split('|').nth(1).unwrap_or("");
            first
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn readme_sysdiagnose_table_names_every_sysdiagnose_module() {
    let text = readme();
    let listed = first_column_names(
        &text,
        "## iOS sysdiagnose archives",
        "| module | reads | matched as |",
    );
    let registry: BTreeSet<String> = modules(spydar::evidence::InputKind::Sysdiagnose)
        .into_iter()
        .map(|m| m.module.to_string())
        .collect();
    assert_eq!(listed, registry);
}

#[test]
fn modules_list_prints_every_registry_row() {
    let all: Vec<_> = INPUT_KINDS.into_iter().flat_map(modules).collect();
    let out = assert_cmd::Command::cargo_bin("spydar")
        .unwrap()
        .args(["modules", "list"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), all.len() + 1, "{text}");
    assert!(
        text.lines().any(|l| {
            l.split_whitespace().collect::<Vec<_>>() == ["sysdiagnose", "ps", "ps.txt"]
        })
    );
    let out = assert_cmd::Command::cargo_bin("spydar")
        .unwrap()
        .args(["modules", "list", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), all.len());
    assert_eq!(rows[0]["input_kind"], all[0].input_kind.as_str());
    assert_eq!(rows[0]["module"], all[0].module);
}
