//! MVT users' habits (issue 14 §4): MVT's indicator folder and `MVT_STIX2`
//! are read in addition to the bundled sets, each file its own source (in
//! `indicators list` and report.json, with its sha256); a bad file is one
//! warning line; `SPYDAR_NO_MVT_INDICATORS=1` and `--no-mvt-iocs` skip
//! them; `-i` is `--iocs`. Every child gets a temporary HOME and XDG
//! folder through its own environment; the test process's is never changed.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use sha2::Digest as _;

/// A one-indicator STIX2 bundle for `domain`, named by `malware`.
fn bundle(path: &Path, domain: &str, malware: &str) {
    let b = serde_json::json!({"type": "bundle", "objects": [
        {"type": "malware", "id": "malware--1", "name": malware},
        {"type": "indicator", "id": format!("indicator--{malware}"),
         "pattern": format!("[domain-name:value = '{domain}']")},
        {"type": "relationship", "id": "relationship--1", "relationship_type": "indicates",
         "source_ref": format!("indicator--{malware}"), "target_ref": "malware--1"}]});
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_vec(&b).unwrap()).unwrap();
}

fn sha256(path: &Path) -> String {
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// A home with MVT's folder holding one bundle, and a second bundle for
/// `MVT_STIX2`.
struct Home {
    _dir: tempfile::TempDir,
    home: PathBuf,
    folder_file: PathBuf,
    env_file: PathBuf,
}

fn home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let folder_file = home.join(".local/share/mvt/indicators/mvt-folder.stix2");
    bundle(&folder_file, "mvt-folder-test.example", "FolderSpy");
    // Not *.stix2: MVT does not read it, nor does spydar.
    bundle(
        &home.join(".local/share/mvt/indicators/other.json"),
        "mvt-json-test.example",
        "JsonSpy",
    );
    let env_file = dir.path().join("env.stix2");
    bundle(&env_file, "mvt-env-test.example", "EnvSpy");
    Home {
        _dir: dir,
        home,
        folder_file,
        env_file,
    }
}

fn spydar(h: &Home, mvt_stix2: Option<&str>) -> Command {
    let mut c = Command::cargo_bin("spydar").unwrap();
    c.env("HOME", &h.home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("SPYDAR_NO_MVT_INDICATORS")
        .env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests");
    match mvt_stix2 {
        Some(v) => c.env("MVT_STIX2", v),
        None => c.env_remove("MVT_STIX2"),
    };
    c
}

fn stdout(c: &mut Command) -> (i32, String, String) {
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `indicators list` rows (name, count, date, malware, sha256, origin): name → (sha256, origin).
fn list(c: &mut Command, extra: &[&str]) -> Vec<(String, String, String)> {
    let (code, out, err) = stdout(c.args(["indicators", "list"]).args(extra));
    assert_eq!(code, 0, "{err}");
    out.lines()
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            (cells[0].into(), cells[4].into(), cells[5].into())
        })
        .collect()
}

#[test]
fn mvt_folder_and_variable_are_their_own_sources() {
    let h = home();
    let env = h.env_file.display().to_string();
    let rows = list(&mut spydar(&h, Some(&env)), &[]);
    let folder = rows
        .iter()
        .find(|r| r.0 == format!("mvt folder: {}", h.folder_file.display()))
        .expect("MVT folder listed");
    assert_eq!(folder.1, sha256(&h.folder_file));
    assert_eq!(folder.2, "mvt folder");
    let var = rows
        .iter()
        .find(|r| r.0 == format!("MVT_STIX2: {env}"))
        .expect("MVT_STIX2 listed");
    assert_eq!(var.1, sha256(&h.env_file));
    assert_eq!(var.2, "MVT_STIX2");
    assert!(rows.iter().any(|r| r.2 == "bundled"));
    assert!(!rows.iter().any(|r| r.0.contains("other.json")));
    // Matched like any other source.
    let (code, out, _) =
        stdout(spydar(&h, Some(&env)).args(["indicators", "check", "mvt-env-test.example"]));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("EnvSpy") && out.contains("MVT_STIX2: "),
        "{out}"
    );
    // Without them: the bundled sources only.
    let bundled_only = list(spydar(&h, None).env("HOME", "/nonexistent/home"), &[]);
    let opted_out = list(
        spydar(&h, Some(&env)).env("SPYDAR_NO_MVT_INDICATORS", "1"),
        &[],
    );
    let flagged = list(&mut spydar(&h, Some(&env)), &["--no-mvt-iocs"]);
    assert_eq!(opted_out, bundled_only);
    assert_eq!(flagged, bundled_only);
    assert_eq!(rows.len(), bundled_only.len() + 2);
}

#[test]
fn xdg_data_home_names_the_folder() {
    let h = home();
    let xdg = h.home.join("xdg");
    let f = xdg.join("mvt/indicators/xdg.stix2");
    bundle(&f, "mvt-xdg-test.example", "XdgSpy");
    let rows = list(spydar(&h, None).env("XDG_DATA_HOME", &xdg), &[]);
    let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert!(
        names.contains(&format!("mvt folder: {}", f.display()).as_str()),
        "{names:?}"
    );
}

#[test]
fn a_bad_mvt_file_is_one_warning_and_the_scan_goes_on() {
    let h = home();
    let bad = h.home.join("bad.stix2");
    std::fs::write(&bad, "{ not json").unwrap();
    let missing = h.home.join("missing.stix2");
    let var = format!(
        "{}:{}:{}",
        bad.display(),
        missing.display(),
        h.env_file.display()
    );
    let out = h.home.join("out");
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/ios_backup");
    let (code, _, err) = stdout(
        spydar(&h, Some(&var))
            .arg("scan")
            .arg(&testdata)
            .arg("-o")
            .arg(&out)
            .arg("-q"),
    );
    assert_eq!(code, 1, "the sample still detects: {err}");
    let warnings: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("MVT indicators"))
        .collect();
    assert_eq!(warnings.len(), 2, "{err}");
    assert!(warnings[0].contains(&bad.display().to_string()), "{err}");
    assert!(
        warnings[1].contains(&missing.display().to_string()),
        "{err}"
    );
    let report = walkdir::WalkDir::new(&out)
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.file_name() == "report.json")
        .unwrap();
    let report: Value = serde_json::from_slice(&std::fs::read(report.path()).unwrap()).unwrap();
    let sources = report["indicators"]["sources"].as_array().unwrap();
    for (name, file) in [
        (
            format!("mvt folder: {}", h.folder_file.display()),
            &h.folder_file,
        ),
        (format!("MVT_STIX2: {}", h.env_file.display()), &h.env_file),
    ] {
        let s = sources
            .iter()
            .find(|s| s["name"] == name.as_str())
            .unwrap_or_else(|| panic!("{name} not in report.json"));
        assert_eq!(s["sha256"], sha256(file));
        assert_eq!(s["indicators"], 1);
    }
    assert!(
        !sources
            .iter()
            .any(|s| s["name"].as_str().unwrap().contains("bad.stix2"))
    );
}

#[test]
fn dash_i_is_iocs() {
    let h = home();
    let extra = h.home.join("extra.stix2");
    bundle(&extra, "dash-i-test.example", "DashSpy");
    let (code, out, err) = stdout(
        spydar(&h, None)
            .args(["indicators", "--no-mvt-iocs", "-i"])
            .arg(&extra)
            .args(["check", "dash-i-test.example"]),
    );
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("DashSpy"), "{out}");
}
