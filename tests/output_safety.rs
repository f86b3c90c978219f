//! Issue 10 §1/§2 and issue 9 §4: where spydar writes, what it may replace,
//! and user-named files that never end. Every case checks that the evidence
//! tree is byte-identical afterwards and that nothing spydar did not write
//! was removed.

use crate::common;
use common::tree;

use std::path::{Path, PathBuf};
use std::time::Duration;

use spydar::fixtures::GenOptions;

/// A `spydar` child blind to downloaded indicators, killed after 120 s so a
/// hang fails the test instead of stalling the suite.
fn spydar() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("spydar").unwrap();
    cmd.env("SPYDAR_INDICATORS_DIR", "/nonexistent/spydar-tests")
        .timeout(Duration::from_secs(120));
    cmd
}

struct Run {
    code: i32,
    stderr: String,
}

/// `spydar scan INPUT -o OUT EXTRA...`.
fn scan_to(
    input: impl AsRef<std::ffi::OsStr>,
    out: impl AsRef<std::ffi::OsStr>,
    extra: &[&str],
) -> Run {
    let mut cmd = spydar();
    cmd.arg("scan").arg(input).arg("-o").arg(out).args(extra);
    run(cmd)
}

fn run(mut cmd: assert_cmd::Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A generated iOS backup at `dir`, its Info.plist `Unique Identifier` set to `udid`.
fn backup_with_udid(dir: &Path, udid: &str) {
    spydar::fixtures::ios_backup::generate(dir, &GenOptions::default()).unwrap();
    let info = dir.join("Info.plist");
    let mut v = plist::Value::from_file(&info).unwrap();
    let d = v.as_dictionary_mut().unwrap();
    d.insert("Unique Identifier".into(), udid.into());
    d.insert("Target Identifier".into(), udid.into());
    v.to_file_xml(&info).unwrap();
}

/// Names of the entries directly in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn no_partial_left(dir: &Path) {
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        let n = e.file_name().to_string_lossy();
        assert!(
            !n.starts_with(".spydar-partial-")
                && !n.starts_with(".spydar-old-")
                && !n.starts_with(".spydar-tmp-"),
            "left behind: {}",
            e.path().display()
        );
    }
}

const UDID: &str = "00008030-001A2B3C4D5E6F70";

#[test]
fn mobilesync_layout_output_is_the_backup_folder_parent_and_the_backup_survives() {
    let d = tempfile::tempdir().unwrap();
    let backups = d.path().join("MobileSync").join("Backup");
    let input = backups.join(UDID);
    backup_with_udid(&input, UDID);
    let before = tree(&backups);
    let r = scan_to(&input, &backups, &["--overwrite"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("holds the input"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert_eq!(tree(&backups), before, "the backup folder changed");
    assert_eq!(names(&backups), [UDID]);
}

#[test]
fn sysdiagnose_folder_without_udid_with_its_parent_as_output_is_untouched() {
    let d = tempfile::tempdir().unwrap();
    let parent = d.path().join("cases");
    let input = parent.join("sysdiagnose_2026.01.02_10-11-12+0000_iPhone-OS_iPhone_21C62");
    spydar::fixtures::sysdiagnose::generate(&input, &GenOptions::default()).unwrap();
    // Without remotectl's UniqueDeviceID the device is named after the folder.
    for e in walkdir::WalkDir::new(&input)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_name() == "remotectl_dumpstate.txt")
    {
        std::fs::remove_file(e.path()).unwrap();
    }
    let before = tree(&parent);
    let r = scan_to(&input, &parent, &["--overwrite", "--quiet"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("holds the input"), "{}", r.stderr);
    assert_eq!(tree(&parent), before);
    assert_eq!(names(&parent).len(), 1);
}

#[test]
fn dot_dot_through_a_missing_folder_does_not_reach_into_the_input() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("B");
    backup_with_udid(&input, UDID);
    let before = tree(&input);
    let out = d.path().join("none").join("..").join("B").join("reports");
    let r = scan_to(&input, &out, &["--quiet"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("inside the input"), "{}", r.stderr);
    assert_eq!(tree(&input), before);
    assert!(!input.join("reports").exists());
    assert!(!d.path().join("none").exists());
}

#[test]
fn decrypt_dot_dot_into_the_encrypted_backup_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let enc = d.path().join("ENC");
    spydar::fixtures::ios_crypto_gen::generate_encrypted(
        &enc,
        &GenOptions {
            password: Some("pw".into()),
            ..Default::default()
        },
    )
    .unwrap();
    let before = tree(&enc);
    // X/none/../ENC/plain with X the folder holding ENC.
    let out = d.path().join("none").join("..").join("ENC").join("plain");
    let mut cmd = spydar();
    cmd.arg("decrypt")
        .arg(&enc)
        .arg("-o")
        .arg(&out)
        .args(["--password-env", "SPYDAR_TEST_PW", "--quiet"])
        .env("SPYDAR_TEST_PW", "pw");
    let r = run(cmd);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("inside the backup"), "{}", r.stderr);
    assert_eq!(tree(&enc), before, "plaintext written into the evidence");
    assert!(!d.path().join("none").exists());

    // --save-key inside the backup: refused the same way.
    let mut cmd = spydar();
    cmd.arg("decrypt")
        .arg(&enc)
        .arg("--save-key")
        .arg(enc.join("key.hex"))
        .args(["--password-env", "SPYDAR_TEST_PW", "--quiet"])
        .env("SPYDAR_TEST_PW", "pw");
    let r = run(cmd);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(tree(&enc), before);
}

#[test]
fn a_foreign_folder_with_the_device_name_is_refused_and_untouched() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in").join("phone");
    backup_with_udid(&input, UDID);
    let before = tree(&input);
    let out = d.path().join("out");
    let foreign = out.join(UDID);
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), b"the analyst's own notes").unwrap();
    std::fs::create_dir(foreign.join("records")).unwrap();
    std::fs::write(foreign.join("records").join("mine.jsonl"), b"{}\n").unwrap();
    let foreign_before = tree(&foreign);
    let r = scan_to(&input, &out, &["--overwrite", "--quiet"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("not written by spydar"), "{}", r.stderr);
    assert_eq!(
        tree(&foreign),
        foreign_before,
        "a folder spydar did not write changed"
    );
    assert_eq!(tree(&input), before);
    no_partial_left(&out);
    // summary.json says the report was not written.
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert!(summary["devices"][0]["report"].is_null(), "{summary}");
    assert!(
        summary["devices"][0]["error"]
            .as_str()
            .unwrap()
            .contains("not written"),
        "{summary}"
    );
}

#[test]
fn overwrite_replaces_only_spydars_own_folder() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in").join("phone");
    backup_with_udid(&input, UDID);
    let before = tree(&input);
    let out = d.path().join("out");
    for overwrite in [false, true] {
        let mut cmd = spydar();
        cmd.arg("scan")
            .arg(&input)
            .arg("-o")
            .arg(&out)
            .arg("--quiet");
        if overwrite {
            cmd.arg("--overwrite");
        }
        let r = run(cmd);
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    }
    let dir = out.join(UDID);
    assert!(spydar::report::is_spydar_folder(&dir));
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join(".spydar-report")).unwrap()).unwrap();
    assert_eq!(marker["schema"], "spydar.folder/1");
    assert_eq!(marker["tool"], "spydar");
    assert!(dir.join("report.json").is_file() && dir.join("records").is_dir());
    assert_eq!(names(&out), [UDID, "summary.json"]);
    assert_eq!(tree(&input), before);
    no_partial_left(&out);
}

#[cfg(unix)]
#[test]
fn a_planted_summary_json_link_is_not_written_through() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in").join("phone");
    backup_with_udid(&input, UDID);
    let out = d.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let victim = d.path().join("victim.txt");
    std::fs::write(&victim, b"keep me").unwrap();
    std::os::unix::fs::symlink(&victim, out.join("summary.json")).unwrap();
    let r = scan_to(&input, &out, &["--overwrite", "--quiet"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("summary.json"), "{}", r.stderr);
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep me");
    assert!(out.join("summary.json").is_symlink());
}

#[test]
fn a_300_character_id_gets_its_report_and_leaves_no_partial_folder() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in").join("phone");
    let long_id: String = "A1b2-".repeat(60);
    assert_eq!(long_id.len(), 300);
    backup_with_udid(&input, &long_id);
    let before = tree(&input);
    let out = d.path().join("out");
    let r = scan_to(&input, &out, &["--quiet"]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    no_partial_left(&out);
    let dirs: Vec<String> = names(&out)
        .into_iter()
        .filter(|n| n != "summary.json")
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    let name = &dirs[0];
    assert!(name.len() <= 100, "{name}");
    assert!(name.starts_with("A1b2-A1b2-"), "{name}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(name).join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["device"]["identifier"], long_id.as_str());
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["devices"][0]["id"], name.as_str());
    assert_eq!(tree(&input), before);
}

#[test]
fn device_names_never_collide_with_run_files_or_each_other() {
    use spydar::report::{folder_name, unique_name};
    assert_eq!(folder_name("summary.json"), "summary.json-device");
    assert_eq!(folder_name("INDEX.HTML"), "INDEX.HTML-device");
    assert_eq!(folder_name("../../etc"), "_.._etc");
    assert_eq!(folder_name("...hidden"), "hidden");
    assert_eq!(folder_name("a/b\\c\u{0}d\u{7f}"), "a_b_c_d_");
    assert_eq!(folder_name(""), "device");
    // Long ids are cut with a hash of the whole id, so two stay apart.
    let a = folder_name(&format!("{}x", "é".repeat(200)));
    let b = folder_name(&format!("{}y", "é".repeat(200)));
    assert!(a.len() <= 100 && b.len() <= 100 && a != b, "{a} {b}");
    let taken = vec!["Phone".to_string()];
    assert_eq!(unique_name("phone", &taken), "phone-2");
    let long = "x".repeat(100);
    let second = unique_name(&long, std::slice::from_ref(&long));
    assert!(second.len() <= 100 && second.ends_with("-2"), "{second}");
}

/// A minimal Android backup: valid header, an empty tar. Every module finds
/// nothing to read.
fn empty_ab(path: &Path) {
    let mut bytes = b"ANDROID BACKUP\n5\n0\nnone\n".to_vec();
    bytes.extend_from_slice(&[0u8; 1024]);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn nothing_read_is_its_own_verdict_never_clean() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("phone.ab");
    empty_ab(&input);
    let out = d.path().join("out");
    let r = scan_to(&input, &out, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Nothing could be read from this input; this is not a clean result"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("NO FINDINGS"), "{}", r.stderr);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("phone.ab").join("report.json")).unwrap())
            .unwrap();
    assert_eq!(report["summary"]["verdict"], "nothing-read");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["devices"][0]["verdict"], "nothing-read");
    let html = std::fs::read_to_string(out.join("phone.ab").join("report.html")).unwrap();
    assert!(html.contains("this is not a clean result"));
    assert!(!html.contains("No known spyware indicator was found"));

    let mut cmd = spydar();
    cmd.arg("scan").arg(&input).arg("--strict").arg("--quiet");
    assert_eq!(run(cmd).code, 2, "--strict makes nothing-read exit 2");
}

#[test]
#[ignore = "needs ../shared"]
fn the_real_invalid_header_ab_is_nothing_read() {
    let input = Path::new(
        "../shared/fixtures/real/abe-adb-backup/invalid_header.uncompressed.unencrypted.backup",
    );
    let d = tempfile::tempdir().unwrap();
    let (code, report) = common::scan(input, &d.path().join("out"), &[]);
    assert!(code == 0 || code == 2, "{code}");
    assert_eq!(report["summary"]["verdict"], "nothing-read");
}

#[test]
fn the_human_summary_names_only_what_was_written() {
    let d = tempfile::tempdir().unwrap();
    let bad = d.path().join("notes.txt");
    std::fs::write(&bad, "hello").unwrap();
    let out = d.path().join("out");
    let r = scan_to(&bad, &out, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("reports written"), "{}", r.stderr);
    let written: Vec<PathBuf> = r
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("written: "))
        .map(PathBuf::from)
        .collect();
    assert_eq!(written, [out.join("summary.json")], "{}", r.stderr);
    assert_eq!(names(&out), ["summary.json"]);
}

#[test]
fn jobs_far_beyond_the_cores_is_capped_not_a_hang() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("phone.ab");
    empty_ab(&input);
    let mut cmd = spydar();
    cmd.arg("scan").arg(&input).args(["--jobs", "100000"]);
    let r = run(cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("--jobs 100000") && r.stderr.contains("using"),
        "{}",
        r.stderr
    );
}

/// `--password-file`, `--allow`, `--iocs` naming `/dev/zero` or a FIFO:
/// one line naming the file, exit 2, no hang and no unbounded read.
#[cfg(unix)]
#[test]
fn user_files_that_never_end_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("phone.ab");
    empty_ab(&input);
    let fifo = d.path().join("fifo");
    common::mkfifo(&fifo);
    let big = d.path().join("big.txt");
    std::fs::write(&big, vec![b'a'; 5000]).unwrap();
    let cases: Vec<(&str, PathBuf)> = vec![
        ("--password-file", PathBuf::from("/dev/zero")),
        ("--password-file", fifo.clone()),
        ("--password-file", big.clone()),
        ("--allow", PathBuf::from("/dev/zero")),
        ("--allow", fifo.clone()),
        ("--iocs", PathBuf::from("/dev/zero")),
        ("--iocs", fifo.clone()),
        ("--key-file", fifo.clone()),
        ("--age-identity", PathBuf::from("/dev/zero")),
    ];
    for (flag, path) in cases {
        let mut cmd = spydar();
        cmd.arg("scan")
            .arg(&input)
            .arg(flag)
            .arg(&path)
            .arg("--quiet")
            .timeout(Duration::from_secs(30));
        let r = run(cmd);
        assert_eq!(r.code, 2, "{flag} {}: {}", path.display(), r.stderr);
        let line = r.stderr.trim();
        assert!(
            line.contains(&path.display().to_string())
                && (line.contains("not a regular file") || line.contains("larger than")),
            "{flag} {}: {line}",
            path.display()
        );
    }
}

// ---- `indicators update`: every redirect hop checked; bundles within limits ----

mod update {
    use std::collections::HashMap;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::path::Path;
    use std::time::{Duration, Instant};

    pub enum Reply {
        Ok(Vec<u8>),
        Redirect(String),
    }

    /// Serves `routes` on 127.0.0.1 (404 otherwise) for 60 s; returns the base URL.
    pub fn serve(routes: impl FnOnce(&str) -> HashMap<String, Reply>) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes = routes(&base);
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                s.set_nonblocking(false).ok();
                s.set_read_timeout(Some(Duration::from_secs(5))).ok();
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, extra, body) = match routes.get(&path) {
                    Some(Reply::Ok(b)) => ("200 OK", String::new(), b.clone()),
                    Some(Reply::Redirect(to)) => {
                        ("302 Found", format!("Location: {to}\r\n"), Vec::new())
                    }
                    None => ("404 Not Found", String::new(), b"404".to_vec()),
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(&body);
            }
        });
        base
    }

    pub fn bundle(patterns: &[String]) -> Vec<u8> {
        let mut objects = vec![serde_json::json!({
            "type": "malware", "id": "malware--t", "name": "TestSpy", "is_family": true
        })];
        for (i, p) in patterns.iter().enumerate() {
            objects.push(serde_json::json!({
                "type": "indicator", "id": format!("indicator--{i}"), "pattern": p, "pattern_type": "stix"
            }));
            objects.push(serde_json::json!({
                "type": "relationship", "id": format!("relationship--{i}"), "relationship_type": "indicates",
                "source_ref": format!("indicator--{i}"), "target_ref": "malware--t"
            }));
        }
        serde_json::to_vec(
            &serde_json::json!({"type": "bundle", "id": "bundle--t", "objects": objects}),
        )
        .unwrap()
    }

    pub fn update(home: &Path, base: &str, dir: &Path) -> (i32, String) {
        let mut cmd = assert_cmd::Command::cargo_bin("spydar").unwrap();
        cmd.env("HOME", home).timeout(Duration::from_secs(60));
        for k in [
            "XDG_DATA_HOME",
            "SPYDAR_INDICATORS_DIR",
            "http_proxy",
            "HTTP_PROXY",
            "https_proxy",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
            "no_proxy",
            "NO_PROXY",
        ] {
            cmd.env_remove(k);
        }
        let o = cmd
            .args(["indicators", "update", "--index-url"])
            .arg(format!("{base}/index.yaml"))
            .arg("--dir")
            .arg(dir)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    pub fn index(base: &str, paths: &[&str]) -> Vec<u8> {
        let mut s = String::from("indicators:\n");
        for p in paths {
            s.push_str(&format!(
                "  - type: download\n    download_url: {base}{p}\n"
            ));
        }
        s.into_bytes()
    }
}

#[test]
fn update_checks_every_redirect_hop_for_plain_http() {
    use update::Reply;
    let good = update::bundle(&["[domain-name:value = 'good-spy.example']".to_string()]);
    let base = update::serve(|base| {
        let mut r = std::collections::HashMap::new();
        r.insert(
            "/index.yaml".to_string(),
            Reply::Ok(update::index(base, &["/dl/away.stix2", "/dl/moved.stix2"])),
        );
        // To plain http on another host: refused, never fetched.
        r.insert(
            "/dl/away.stix2".to_string(),
            Reply::Redirect("http://example.com/away.stix2".into()),
        );
        // To this machine again: followed.
        r.insert(
            "/dl/moved.stix2".to_string(),
            Reply::Redirect("/dl/real.stix2".into()),
        );
        r.insert("/dl/real.stix2".to_string(), Reply::Ok(good.clone()));
        r
    });
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("iocs");
    let (code, err) = update::update(d.path(), &base, &dir);
    assert_eq!(code, 0, "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("/dl/away.stix2"))
        .unwrap_or_else(|| panic!("no line for the redirect in\n{err}"));
    assert!(
        line.contains("example.com") && line.contains("refused"),
        "{line}"
    );
    let mut files = names(&dir);
    files.sort();
    assert_eq!(files, ["127.0.0.1_dl_moved.stix2", "sources.json"]);
    assert_eq!(
        std::fs::read(dir.join("127.0.0.1_dl_moved.stix2")).unwrap(),
        good
    );
}

#[test]
fn update_refuses_a_bundle_beyond_the_documented_limits() {
    use update::Reply;
    let good = update::bundle(&["[domain-name:value = 'good-spy.example']".to_string()]);
    let terms: Vec<String> = (0..150)
        .map(|i| format!("domain-name:value = 'd{i}.example'"))
        .collect();
    let wide = update::bundle(&[format!("[{}]", terms.join(" OR "))]);
    let long = update::bundle(&[format!(
        "[domain-name:value = '{}.example']",
        "a".repeat(20_000)
    )]);
    let base = update::serve(|base| {
        let mut r = std::collections::HashMap::new();
        r.insert(
            "/index.yaml".to_string(),
            Reply::Ok(update::index(
                base,
                &["/good.stix2", "/wide.stix2", "/long.stix2"],
            )),
        );
        r.insert("/good.stix2".to_string(), Reply::Ok(good.clone()));
        r.insert("/wide.stix2".to_string(), Reply::Ok(wide.clone()));
        r.insert("/long.stix2".to_string(), Reply::Ok(long.clone()));
        r
    });
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("iocs");
    let (code, err) = update::update(d.path(), &base, &dir);
    assert_eq!(code, 0, "{err}");
    for (path, why) in [("/wide.stix2", "comparisons"), ("/long.stix2", "bytes")] {
        let line = err
            .lines()
            .find(|l| l.contains(path))
            .unwrap_or_else(|| panic!("no line for {path} in\n{err}"));
        assert!(line.contains(why) && line.contains("not kept"), "{line}");
    }
    assert_eq!(names(&dir), ["127.0.0.1_good.stix2", "sources.json"]);
}

#[test]
fn update_bundle_limit_counts_indicators() {
    let mut objects = String::from("{\"type\":\"bundle\",\"objects\":[");
    for i in 0..=spydar::cli::update::MAX_BUNDLE_INDICATORS {
        if i > 0 {
            objects.push(',');
        }
        objects
            .push_str("{\"type\":\"indicator\",\"pattern\":\"[domain-name:value = 'a.example']\"}");
    }
    objects.push_str("]}");
    let e = spydar::cli::update::check_bundle_limits(objects.as_bytes()).unwrap_err();
    assert!(e.contains("indicators, more than"), "{e}");
    assert!(
        spydar::cli::update::check_bundle_limits(&update::bundle(&["[x:y = 'z']".into()])).is_ok()
    );
}
