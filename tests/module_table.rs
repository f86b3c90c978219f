//! README's module tables list exactly the modules of the registries
//! (`spydar::artifacts::modules`, which `spydar modules list` prints).
//!
//! The table between `<!-- modules:begin` and `<!-- modules:end -->` is
//! generated: one row per module and what it reads, with the input kinds
//! that run it. After adding or renaming a module, regenerate it with
//! `SPYDAR_BLESS=1 cargo test --test integration module_table::` and review the diff.
//! The hand-written sysdiagnose table must name every sysdiagnose module.
//!
//! The table's last column joins the registries with MVT's module lists
//! (`spydar::artifacts::mvt_parity`): which MVT module each spydar module
//! is, which spydar modules MVT lacks, and a row for every MVT module
//! spydar has no counterpart for, with the reason.

use std::collections::BTreeSet;
use std::path::Path;

use spydar::artifacts::mvt_parity::{self, COMMANDS, Spydar};
use spydar::artifacts::{INPUT_KINDS, modules};
use spydar::evidence::InputKind;

const BEGIN: &str = "<!-- modules:begin";
const END: &str = "<!-- modules:end -->";

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The generated table: rows in registry order (iOS backup first), one per
/// (module, artifact), with every input kind that runs it and its MVT
/// counterpart; then one row per MVT module spydar has no counterpart for.
fn generated_table() -> String {
    let mut rows: Vec<(&str, String, Vec<InputKind>)> = Vec::new();
    for kind in INPUT_KINDS {
        for m in modules(kind) {
            match rows
                .iter_mut()
                .find(|(name, artifact, _)| *name == m.module && *artifact == m.artifact)
            {
                Some(row) => row.2.push(kind),
                None => rows.push((m.module, m.artifact, vec![kind])),
            }
        }
    }
    let mut s = format!(
        "| module | input kinds | reads | MVT {} |\n|---|---|---|---|\n",
        mvt_parity::MVT_VERSION
    );
    for (name, artifact, kinds) in rows {
        let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
        s.push_str(&format!(
            "| `{name}` | {} | `{artifact}` | {} |\n",
            names.join(", "),
            mvt_cell(name, &kinds)
        ));
    }
    for (slug, inputs, commands, why) in mvt_only() {
        s.push_str(&format!(
            "| — | {} | — | `{slug}` ({}): {why} |\n",
            inputs.join(", "),
            commands.join(", ")
        ));
    }
    s
}

/// What MVT has for spydar module `name` on `kinds`: its slug and the
/// commands running it, and the kinds where MVT lacks it.
fn mvt_cell(name: &str, kinds: &[InputKind]) -> String {
    let mut slugs: Vec<&str> = Vec::new();
    let mut commands: Vec<&str> = Vec::new();
    let mut lacking: Vec<&str> = Vec::new();
    for &kind in kinds {
        let found: Vec<_> = mvt_parity::for_kind(kind)
            .into_iter()
            .filter(|(m, _)| m.counterpart() == Some(name))
            .collect();
        if found.is_empty() {
            lacking.push(kind.as_str());
        }
        for (m, cmds) in found {
            if !slugs.contains(&m.slug) {
                slugs.push(m.slug);
            }
            for c in cmds {
                if !commands.contains(&c) {
                    commands.push(c);
                }
            }
        }
    }
    for &(command, slug, module) in mvt_parity::SECOND_RUNS {
        let runs_on_kind = COMMANDS
            .iter()
            .any(|c| c.command == command && c.input.is_some_and(|k| kinds.contains(&k)));
        if module == name && runs_on_kind {
            slugs.push(slug);
            commands.push(command);
            lacking.clear();
        }
    }
    if slugs.is_empty() {
        return "not in MVT".to_string();
    }
    let slugs: Vec<String> = slugs.iter().map(|s| format!("`{s}`")).collect();
    let mut cell = format!("{} ({})", slugs.join(", "), commands.join(", "));
    if !lacking.is_empty() {
        cell.push_str(&format!("; not in MVT for {}", lacking.join(", ")));
    }
    cell
}

/// MVT modules without a spydar counterpart: (slug, inputs, commands,
/// reason), one row per slug and reason.
fn mvt_only() -> Vec<(
    &'static str,
    Vec<&'static str>,
    Vec<&'static str>,
    &'static str,
)> {
    let mut out: Vec<(&str, Vec<&str>, Vec<&str>, &str)> = Vec::new();
    for c in COMMANDS {
        for m in c.modules() {
            let Some(why) = m.reason() else { continue };
            match out.iter_mut().find(|r| r.0 == m.slug && r.3 == why) {
                Some(row) => {
                    if !row.1.contains(&c.input_name) {
                        row.1.push(c.input_name);
                    }
                    row.2.push(c.command);
                }
                None => out.push((m.slug, vec![c.input_name], vec![c.command], why)),
            }
        }
    }
    out
}

/// Every MVT module has a spydar counterpart in the registry of the same
/// input kind, or a written reason; a planned one that has arrived asks
/// to be marked as the counterpart.
#[test]
fn every_mvt_module_has_a_counterpart_or_a_reason() {
    let mut missing = Vec::new();
    let mut arrived = Vec::new();
    for c in COMMANDS {
        let registry: BTreeSet<&str> = match c.input {
            Some(kind) => modules(kind).into_iter().map(|m| m.module).collect(),
            None => BTreeSet::new(),
        };
        for m in c.modules() {
            match (m.counterpart(), m.spydar) {
                (Some(name), _) if !registry.contains(name) => {
                    missing.push(format!("{} {} -> {name}", c.command, m.slug))
                }
                (None, Spydar::Planned) if registry.contains(m.slug) => {
                    arrived.push(format!("{} {}", c.command, m.slug))
                }
                _ => {}
            }
        }
    }
    assert!(
        missing.is_empty(),
        "MVT modules whose spydar counterpart is not in the registry (add the module, or give a reason in src/artifacts/mvt_parity.rs): {missing:?}"
    );
    assert!(
        arrived.is_empty(),
        "planned MVT modules now in the registry: mark them Same in src/artifacts/mvt_parity.rs: {arrived:?}"
    );
}

/// The lists in `mvt_parity` are the installed MVT's. MVT is looked for in
/// `MVT_VENV`, else in `bench-out/mvt-venv` (where `benches/compare-mvt.sh`
/// installs it from PyPI). Without MVT the test says SKIPPED and passes, so a
/// machine without it (CI) stays green; with `SPYDAR_REQUIRE_MVT=1` a missing
/// MVT fails it.
#[test]
fn mvt_lists_are_the_installed_mvts() {
    let venv = std::env::var("MVT_VENV")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/bench-out/mvt-venv").into());
    if !std::path::Path::new(&format!("{venv}/bin/python")).exists() {
        assert!(
            std::env::var_os("SPYDAR_REQUIRE_MVT").is_none(),
            "SPYDAR_REQUIRE_MVT is set but {venv}/bin/python is missing"
        );
        eprintln!("SKIPPED: no MVT at {venv} (set MVT_VENV)");
        return;
    }
    let script = r#"
from mvt.ios.modules.backup import BACKUP_MODULES as IB
from mvt.ios.modules.mixed import MIXED_MODULES as IM
from mvt.ios.modules.fs import FS_MODULES as IF
from mvt.ios.modules.sysdiagnose import SYSDIAGNOSE_MODULES as IS
from mvt.android.modules.androidqf import ANDROIDQF_MODULES as AQ
from mvt.android.modules.backup import BACKUP_MODULES as AB
from mvt.android.modules.bugreport import BUGREPORT_MODULES as BR
from mvt.android.modules.intrusion_logs import INTRUSION_LOGS_MODULES as IL
import mvt
def dedup(l):
    out = []
    for m in l:
        if m.get_slug() not in out:
            out.append(m.get_slug())
    return out
for name, l in [("mvt-ios check-backup", IB + IM), ("mvt-ios check-fs", IF + IM),
                ("mvt-ios check-sysdiagnose", IS), ("mvt-android check-androidqf", AQ + BR + AB + IL),
                ("mvt-android check-bugreport", BR), ("mvt-android check-backup", AB),
                ("mvt-android check-intrusion-logs", IL)]:
    print(name + "\t" + " ".join(dedup(l)))
print("version\t" + mvt.__version__ if hasattr(mvt, "__version__") else "version\t?")
"#;
    let out = std::process::Command::new(format!("{venv}/bin/python"))
        .arg("-c")
        .arg(script)
        .output()
        .expect("MVT's python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for c in COMMANDS {
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{}\t", c.command)))
            .unwrap_or_else(|| panic!("{}: not in\n{text}", c.command));
        let installed: Vec<&str> = line.split_whitespace().collect();
        let ours: Vec<&str> = c.modules().map(|m| m.slug).collect();
        assert_eq!(ours, installed, "{}", c.command);
    }
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
