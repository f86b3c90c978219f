//! The library's layers, read from the source: every `crate::X` a
//! top-level module names (outside comments and its test code) must be in
//! a strictly lower layer, so there is no import circle and no arrow from
//! a lower layer to a higher one. A new top-level module must be placed in
//! `LAYERS` before this passes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Lowest first. Modules on one line may not import each other.
const LAYERS: &[&[&str]] = &[
    &["error", "strings", "time", "progress"],
    &["model"],
    &["rules", "options"],
    &["evidence", "textpos"],
    &["indicators"],
    &["artifacts"],
    &["allow", "report"],
    &["scan"],
    // The command line and the fixture generator (a feature for tests and
    // benches) sit on top; nothing in the library imports them.
    &["cli", "fixtures"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The source of a file without comments and without its test module.
fn code(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with("#[cfg(test)]"))
        .map(|l| match l.find("//") {
            // A `//` inside a string (a URL) is rare next to `crate::`;
            // cutting there only ever hides an import, never invents one.
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn top_level_modules(src: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(src).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        match name.strip_suffix(".rs") {
            Some("lib" | "main") => {}
            Some(m) => out.push(m.to_string()),
            None if name != "bin" => out.push(name),
            None => {}
        }
    }
    out.sort();
    out.dedup();
    out
}

fn imports(src: &Path, module: &str, known: &[String]) -> BTreeSet<String> {
    let mut files = Vec::new();
    let file = src.join(format!("{module}.rs"));
    if file.is_file() {
        files.push(file);
    }
    let dir = src.join(module);
    if dir.is_dir() {
        for e in walkdir::WalkDir::new(&dir) {
            let e = e.unwrap();
            if e.path().extension().is_some_and(|x| x == "rs") {
                files.push(e.into_path());
            }
        }
    }
    let mut out = BTreeSet::new();
    for f in files {
        let text = code(&std::fs::read_to_string(&f).unwrap());
        for (i, _) in text.match_indices("crate::") {
            let rest = &text[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name != module && known.contains(&name) {
                out.insert(name);
            }
        }
    }
    out
}

#[test]
fn every_import_points_to_a_lower_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = top_level_modules(&src);
    let unplaced: Vec<_> = modules.iter().filter(|m| layer(m).is_none()).collect();
    assert!(
        unplaced.is_empty(),
        "top-level modules not placed in LAYERS: {unplaced:?}"
    );
    let mut wrong = BTreeMap::new();
    let mut arrows = 0;
    for m in &modules {
        for to in imports(&src, m, &modules) {
            arrows += 1;
            if layer(&to) >= layer(m) {
                wrong.insert(format!("{m} -> {to}"), ());
            }
        }
    }
    assert!(arrows > 20, "the import scan found almost nothing");
    assert!(
        wrong.is_empty(),
        "imports to the same or a higher layer: {:?}",
        wrong.keys().collect::<Vec<_>>()
    );
}

#[test]
fn the_scan_sees_a_planted_upward_import() {
    // The check itself: a line that imports upward is found, the same
    // words in a comment are not.
    let text =
        "use crate::model::Record;\n// crate::cli is a comment\nfn f() { crate::scan::x(); }";
    let code = code(text);
    assert!(code.contains("crate::scan"));
    assert!(!code.contains("crate::cli"));
}
